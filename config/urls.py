from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from bulkyard.core.api_docs import RedocView, SchemaView, SwaggerUiView
from bulkyard.core.views import HealthApi, MetricsApi, favicon
from bulkyard.jobs.admin_dashboard import dashboard_view
from bulkyard.targets.api import TargetListApi
from bulkyard.users.api import WsTicketApi
from bulkyard.web.accounts import ThrottledPasswordResetView

browsable_api_auth = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="web:job-list", permanent=False)),
    # Ahead of the admin's own URLs, which would take it for an app's.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("bulkyard.jobs.api.urls")),
    path("api/v1/ws-ticket/", WsTicketApi.as_view(), name="ws-ticket"),
    path("api/v1/targets/", TargetListApi.as_view(), name="target-list"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerUiView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    # The browsable API's sign-in: DRF's URL names, the site's own login page
    # (DRF's has inline styles the Content-Security-Policy refuses).
    path("api-auth/", include((browsable_api_auth, "rest_framework"))),
    # Ahead of Django's own: the reset form with its limits (docs/security.md).
    path(
        "accounts/password_reset/",
        ThrottledPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("jobs/", include("bulkyard.web.urls")),
    path("health/", HealthApi.as_view(), name="health"),
    path("favicon.ico", favicon, name="favicon"),
    # Prometheus scrapes /metrics by default (docs/observability.md).
    path("metrics", MetricsApi.as_view(), name="metrics"),
]

handler404 = "bulkyard.core.views.not_found"
handler500 = "bulkyard.core.views.server_error"
