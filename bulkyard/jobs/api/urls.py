from django.urls import path

from bulkyard.jobs.api import views

app_name = "jobs"

urlpatterns = [
    path("jobs/", views.JobListCreateApi.as_view(), name="job-list"),
    path("jobs/preview/", views.JobPreviewApi.as_view(), name="job-preview"),
    path("jobs/<uuid:job_id>/", views.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", views.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/pause/", views.JobPauseApi.as_view(), name="job-pause"),
    path("jobs/<uuid:job_id>/resume/", views.JobResumeApi.as_view(), name="job-resume"),
    path("jobs/<uuid:job_id>/retry/", views.JobRetryApi.as_view(), name="job-retry"),
    path("jobs/<uuid:job_id>/results/", views.JobResultsApi.as_view(), name="job-results"),
    path("jobs/<uuid:job_id>/output/", views.JobOutputApi.as_view(), name="job-output"),
    path("kinds/", views.KindListApi.as_view(), name="kind-list"),
    path("me/", views.MeApi.as_view(), name="me"),
]
