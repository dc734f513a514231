from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from bulkyard.core.views import HealthApi
from bulkyard.targets.api import TargetListApi
from bulkyard.users.api import WsTicketApi

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="web:job-list", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("bulkyard.jobs.api.urls")),
    path("api/v1/ws-ticket/", WsTicketApi.as_view(), name="ws-ticket"),
    path("api/v1/targets/", TargetListApi.as_view(), name="target-list"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("jobs/", include("bulkyard.web.urls")),
    path("health/", HealthApi.as_view(), name="health"),
]

handler404 = "bulkyard.core.views.not_found"
handler500 = "bulkyard.core.views.server_error"
