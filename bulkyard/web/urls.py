from django.urls import path

from bulkyard.web import views

app_name = "web"

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("new/", views.job_new, name="job-new"),
    path("new/preview/", views.job_preview, name="job-preview"),
    path("<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("<uuid:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("<uuid:job_id>/pause/", views.job_pause, name="job-pause"),
    path("<uuid:job_id>/resume/", views.job_resume, name="job-resume"),
    path("<uuid:job_id>/retry/", views.job_retry, name="job-retry"),
    path("<uuid:job_id>/report/", views.job_report, name="job-report"),
]
