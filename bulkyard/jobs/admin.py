"""The staff panel: every job, live progress, chunks, failures, and actions."""

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timezone import localtime

from bulkyard.jobs import admin_page, selectors, services
from bulkyard.jobs.kinds import CodedError
from bulkyard.jobs.models import Chunk, ItemOutcome, Job, JobPriority, JobStatus
from bulkyard.jobs.results import results_response
from bulkyard.jobs.selectors import masked_params

# Longer user names are cut in the job list (the whole name is its tooltip).
OWNER_CHARS = 12

# The index links the staff dashboard (admin_dashboard.py).
admin.site.index_template = "admin/bulkyard_index.html"


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    # Fits 1280 px beside the filters: short cells, no navigation sidebar.
    list_display = [
        "short_id",
        "kind",
        "owner_name",
        "status_badge",
        "progress_bar",
        "counts",
        "throughput",
        "duration",
        "created",
    ]
    list_filter = [
        "status",
        "priority",
        "kind",
        ("owner", admin.RelatedOnlyFieldListFilter),  # only users who own jobs
        "created_at",
    ]
    search_fields = ["idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    list_per_page = 50
    actions = [
        "cancel_jobs",
        "pause_jobs",
        "resume_jobs",
        "retry_failed_items",
        "rerun_stalled_chunks",
        "set_priority_high",
        "set_priority_normal",
        "set_priority_low",
    ]
    change_form_template = "admin/bulkyard_jobs/job/change_form.html"

    class Media:
        css = {"all": ["bulkyard/bulkyard.css", "bulkyard/admin.css"]}

    fieldsets = [
        (
            None,
            {
                # Status, error, chunks and timing are in the live parts above.
                "fields": ["id", "kind", "owner", "priority"]
            },
        ),
        (
            "Input",
            {
                "fields": [
                    "input_name",
                    "input_format",
                    "input_size",
                    "attachments_display",
                    "chunk_size",
                ]
            },
        ),
        ("Parameters", {"fields": ["params_display", "idempotency_key", "retry_of"]}),
        ("Retention", {"fields": ["created_at", "retention_days"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> list[str]:
        return [
            field
            for _, options in self.fieldsets
            for field in options["fields"]
            if isinstance(field, str)
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        # Jobs change only through actions, never through the form.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        # Deleting through the admin would load every item result on the
        # confirmation page; old jobs are removed by a retention command.
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Who may run the actions (cancel, pause, resume, retry, re-run):
        viewing is not enough."""
        return bool(request.user.has_perm("bulkyard_jobs.change_job"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        job_id = _as_uuid(search_term)
        if job_id is not None:
            return queryset.filter(pk=job_id), False  # an indexed lookup, not a scan
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="attachments")
    def attachments_display(self, job: Job) -> str:
        rows = list(job.attachments.order_by("pk").values_list("name", "size", "content_type"))
        if not rows:
            return "none"
        return format_html_join(
            mark_safe("<br>"),
            "{} ({} bytes, {})",
            ((name, size, content_type or "unknown type") for name, size, content_type in rows),
        )

    @admin.display(description="id", ordering="id")
    def short_id(self, job: Job) -> str:
        return str(job.pk)[:8]

    @admin.display(description="owner", ordering="owner__username")
    def owner_name(self, job: Job) -> str:
        # An email address as user name would widen the list past 1280 px.
        name = job.owner.get_username()
        return format_html('<span title="{}">{}</span>', name, Truncator(name).chars(OWNER_CHARS))

    # Colours and widths come from classes in bulkyard.css and <progress>
    # values: the Content-Security-Policy refuses inline style attributes.
    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        return format_html(
            '<span class="by-badge by-status-{}">{}</span>',
            JobStatus(job.status).value,
            job.get_status_display(),
        )

    @admin.display(description="progress")
    def progress_bar(self, job: Job) -> str:
        percent = selectors.job_progress(job).percent or 0.0
        return format_html(
            '<progress class="by-bar by-small" max="100" value="{}" title="{}%"></progress> {}%',
            f"{percent:.1f}",
            f"{percent:.1f}",
            f"{percent:.0f}",
        )

    @admin.display(description="ok/failed/total")
    def counts(self, job: Job) -> str:
        total = "?" if job.total_items is None else _compact(job.total_items)
        return f"{_compact(job.succeeded_items)}/{_compact(job.failed_items)}/{total}"

    @admin.display(description="created", ordering="created_at")
    def created(self, job: Job) -> str:
        # Day and minute: the full date-time took a sixth of the list's width.
        return localtime(job.created_at).strftime("%m-%d %H:%M")

    @admin.display(description="items/s")
    def throughput(self, job: Job) -> str:
        rate = selectors.job_progress(job).items_per_second
        return "-" if rate is None else f"{rate:,.0f}"

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        seconds = selectors.job_progress(job).duration_seconds
        return "-" if seconds is None else _human_duration(seconds)

    @admin.display(description="parameters")
    def params_display(self, job: Job) -> str:
        shown = json.dumps(masked_params(job), indent=2, ensure_ascii=False)
        return format_html("<pre class='by-pre'>{}</pre>", shown)

    def get_urls(self) -> list[URLPattern]:
        def route(suffix: str, view: Callable[..., HttpResponse], name: str) -> URLPattern:
            wrapped = self.admin_site.admin_view(functools.partial(view, model_admin=self))
            return path(f"<uuid:job_id>/{suffix}/", wrapped, name=f"bulkyard_jobs_job_{name}")

        own = [
            path(
                "<uuid:job_id>/results/",
                self.admin_site.admin_view(self.results_view),
                name="bulkyard_jobs_job_results",
            ),
            route("live", admin_page.live_parts_view, "live"),
            *(
                route(name, functools.partial(admin_page.control_view, control=name), name)
                for name in admin_page.CONTROLS
            ),
        ]
        return [*own, *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The navigation sidebar would push items/s, duration and created
        # past 1280 px; the breadcrumbs lead back.
        context = {"is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, context)

    def results_view(self, request: HttpRequest, job_id: str) -> StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job, pk=job_id)
        outcome = request.GET.get("outcome") or None
        if outcome not in (None, *ItemOutcome.values):
            outcome = None
        fmt = "jsonl" if request.GET.get("format") == "jsonl" else "csv"
        return results_response(job, outcome=outcome, fmt=fmt, request=request, mask_inputs=True)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        job = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if job is not None:
            context.update(
                admin_page.change_page_context(
                    request=request, job=job, can_manage=self.has_manage_permission(request)
                )
            )
        return super().change_view(request, object_id, form_url, context)

    @admin.action(description="Cancel selected jobs", permissions=["manage"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = 0
        for job in queryset:
            try:
                services.job_cancel(job=job)
                cancelled += 1
            except services.JobConflict as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Cancelled {cancelled} job(s).")

    @admin.action(description="Pause selected jobs", permissions=["manage"])
    def pause_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._control(request, queryset, services.job_pause, done="Paused")

    @admin.action(description="Resume selected jobs", permissions=["manage"])
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._control(request, queryset, services.job_resume, done="Resumed")

    def _control(
        self,
        request: HttpRequest,
        queryset: QuerySet[Job],
        service: Callable[..., Job],
        *,
        done: str,
    ) -> None:
        count = 0
        for job in queryset:
            try:
                service(job=job)
                count += 1
            except (services.JobConflict, services.QuotaExceeded) as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} {count} job(s).")

    @admin.action(description="Retry failed items of selected jobs", permissions=["manage"])
    def retry_failed_items(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        for job in queryset:
            try:
                retry, created = services.job_retry_failed(
                    job=job, owner=job.owner, idempotency_key=admin_page.admin_retry_key(job=job)
                )
            # Every refusal a service gives (a conflict, a quota, a job no longer
            # retryable) is told to the staff user, not raised.
            except CodedError as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
            else:
                made = "created" if created else "made earlier from the admin"
                self.message_user(request, f"{job.pk}: retry job {retry.pk} {made}.")

    @admin.action(description="Re-run stalled chunks of selected jobs", permissions=["manage"])
    def rerun_stalled_chunks(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        total = sum(services.job_rerun_stalled_chunks(job=job) for job in queryset)
        self.message_user(request, f"Sent {total} stalled chunk(s) to the workers again.")

    @admin.action(description="Set priority of selected jobs: high", permissions=["manage"])
    def set_priority_high(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._set_priority(request, queryset, JobPriority.HIGH)

    @admin.action(description="Set priority of selected jobs: normal", permissions=["manage"])
    def set_priority_normal(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._set_priority(request, queryset, JobPriority.NORMAL)

    @admin.action(description="Set priority of selected jobs: low", permissions=["manage"])
    def set_priority_low(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._set_priority(request, queryset, JobPriority.LOW)

    def _set_priority(
        self, request: HttpRequest, queryset: QuerySet[Job], priority: JobPriority
    ) -> None:
        changed = 0
        for job in queryset:
            try:
                services.job_set_priority(job=job, priority=priority)
                changed += 1
            except services.JobConflict as exc:
                self.message_user(request, f"{job.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Set {changed} job(s) to {priority.label.lower()} priority.")


def _compact(number: int) -> str:
    """9,999, 12.3k, 1.01M: a million-item job's counts in a third of the width."""
    if number < 10_000:
        return f"{number:,}"
    if number < 1_000_000:
        return f"{number / 1000:.1f}k"
    return f"{number / 1_000_000:.2f}M"


def _human_duration(seconds: float) -> str:
    """12.3s, 4m05s, 1h05m: short enough for the job list's column."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term.strip())
    except ValueError:
        return None


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin[Chunk]):
    """Chunks across jobs, e.g. every failed or long-running one. Item results
    have no list of their own: millions of rows belong on their job's page
    (paginated) or in its downloads."""

    list_display = ["job", "sequence", "status", "attempts", "item_count", "failed_items"]
    list_filter = ["status"]
    list_select_related = ["job"]
    search_fields = ["error_message"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Chunk], search_term: str
    ) -> tuple[QuerySet[Chunk], bool]:
        job_id = _as_uuid(search_term)
        if job_id is not None:
            return queryset.filter(job_id=job_id), False
        return super().get_search_results(request, queryset, search_term)
