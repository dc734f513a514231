"""Staff view of every job. Issue 8 grows this into the live admin panel."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from bulkyard.jobs import services
from bulkyard.jobs.models import Chunk, ItemResult, Job
from bulkyard.jobs.selectors import job_progress


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = [
        "id",
        "kind",
        "owner",
        "status",
        "percent",
        "total_items",
        "succeeded_items",
        "failed_items",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind", "owner", "created_at"]
    search_fields = ["id", "idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    actions = ["cancel_jobs", "retry_failed_items"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="progress")
    def percent(self, job: Job) -> str:
        percent = job_progress(job).percent
        return "-" if percent is None else f"{percent:.0f}%"

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = 0
        for job in queryset:
            try:
                services.job_cancel(job=job)
                cancelled += 1
            except services.JobConflict as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Cancelled {cancelled} job(s).")

    @admin.action(description="Retry failed items of selected jobs")
    def retry_failed_items(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        for job in queryset:
            try:
                retry, _ = services.job_retry_failed(job=job, owner=job.owner)
            except (services.JobConflict, services.InvalidJobRequest) as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"{job.pk}: retry job {retry.pk} created.")


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin[Chunk]):
    list_display = ["job", "sequence", "status", "attempts", "item_count", "failed_items"]
    list_filter = ["status"]
    search_fields = ["job__id"]
    readonly_fields = [f.name for f in Chunk._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ItemResult)
class ItemResultAdmin(admin.ModelAdmin[ItemResult]):
    list_display = ["job", "item_number", "outcome", "code", "message"]
    list_filter = ["outcome"]
    search_fields = ["job__id", "code"]
    readonly_fields = [f.name for f in ItemResult._meta.fields]
    show_full_result_count = False  # a count over millions of rows is slow

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
