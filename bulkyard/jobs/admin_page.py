"""The staff's job page, beyond Django's form: the parts of it that change
while the job runs (status, chunks, summary), served as HTML fragments that
``admin_live.js`` swaps in, and the buttons that pause, resume, cancel or
retry the job. ``JobAdmin.get_urls`` routes here; the admin site's
``admin_view`` has already refused anyone who is not active staff."""

import json
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse

from bulkyard.core.secrets import mask_url_query
from bulkyard.jobs import selectors, services
from bulkyard.jobs.kinds import CodedError
from bulkyard.jobs.models import Chunk, ItemOutcome, Job

if TYPE_CHECKING:  # the admin imports this module: no cycle at run time
    from bulkyard.jobs.admin import JobAdmin

FAILURES_PER_PAGE = 50
# The chunks table shows this many; a job of 10,000 chunks is summed up above it.
CHUNKS_SHOWN = 200
LIVE_PARTS = ("status", "chunks", "summary")
CONTROL_LABELS = {
    "pause": "Pause job",
    "resume": "Resume job",
    "cancel": "Cancel job",
    "retry": "Retry failed items",
}
CONTROLS = tuple(CONTROL_LABELS)
_TEMPLATES = "admin/bulkyard_jobs/job/live/"


def live_context(*, job: Job) -> dict[str, Any]:
    """What the live parts show, for the first render and every refresh."""
    summary = None if job.summary is None else json.dumps(job.summary, indent=2, sort_keys=True)
    return {
        "job": job,
        "progress": selectors.job_progress(job),
        "controls": selectors.job_controls(job=job),
        "chunks": Chunk.objects.filter(job=job).order_by("sequence")[:CHUNKS_SHOWN],
        "chunk_count": job.chunks_total or 0,
        "chunks_shown": CHUNKS_SHOWN,
        "summary_json": summary,
        "callback": _callback_text(job),
    }


def _callback_text(job: Job) -> str | None:
    """Where the job's end is POSTed and how it went; never the secret."""
    delivery = selectors.job_callback(job)
    if delivery is None:
        return None
    outcome = f"{delivery.status}, {delivery.attempts} attempt(s)"
    if delivery.last_status_code is not None:
        outcome += f", last answer {delivery.last_status_code}"
    if delivery.last_error:
        outcome += f": {delivery.last_error}"
    return f"{mask_url_query(delivery.url)} — {outcome}"


def change_page_context(*, request: HttpRequest, job: Job, can_manage: bool) -> dict[str, Any]:
    """The job page's own context, on top of the admin's."""
    failures = Paginator(
        selectors.item_results(job=job, outcome=ItemOutcome.FAILED).only(
            "item_number", "code", "message"
        ),
        FAILURES_PER_PAGE,
    )
    # Counting a huge table is slow; the job's own counter is exact.
    failures.count = job.failed_items
    results = reverse("admin:bulkyard_jobs_job_results", args=[job.pk])
    context = live_context(job=job)
    return {
        **context,
        "can_manage": can_manage,
        # The title without the status: the status is live, the title is not.
        "subtitle": f"{job.kind} {job.pk}",
        "failures_page": failures.get_page(request.GET.get("failures")),
        "downloads": [
            ("All results (CSV)", f"{results}?format=csv"),
            # A finished job with no failure has none to download.
            *(
                [("Failed items (CSV)", f"{results}?outcome=failed&format=csv")]
                if job.failed_items or not job.is_finished
                else []
            ),
            *(
                [("Failed items (JSON Lines)", f"{results}?outcome=failed&format=jsonl")]
                if job.failed_items or not job.is_finished
                else []
            ),
        ],
        "websocket_path": f"/ws/jobs/{job.pk}/",
        "live_parts_url": reverse("admin:bulkyard_jobs_job_live", args=[job.pk]),
        "control_buttons": _control_buttons(job=job, controls=context["controls"]),
    }


def _control_buttons(
    *, job: Job, controls: selectors.JobControls
) -> list[tuple[str, str, str, bool]]:
    """(name, label, URL, shown) of each button; hidden ones stay in the page
    so that admin_live.js can show them when the job's state allows."""
    return [
        (
            name,
            label,
            reverse(f"admin:bulkyard_jobs_job_{name}", args=[job.pk]),
            getattr(controls, name),
        )
        for name, label in CONTROL_LABELS.items()
    ]


def live_parts_view(request: HttpRequest, job_id: str, *, model_admin: "JobAdmin") -> HttpResponse:
    """The live parts of a job's page as JSON: ``{"status", "finished",
    "controls": {name: bool}, "parts": {name: html}}``."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    job = get_object_or_404(Job.objects.select_related("callback"), pk=job_id)
    context = live_context(job=job)
    controls = context["controls"]
    response = JsonResponse(
        {
            "status": job.status,
            "finished": job.is_finished,
            "controls": {name: getattr(controls, name) for name in CONTROLS},
            "parts": {
                name: render_to_string(f"{_TEMPLATES}{name}.html", context, request=request)
                for name in LIVE_PARTS
            },
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def admin_retry_key(*, job: Job) -> str:
    """The idempotency key of a retry made from the admin (its button or its
    list action): a double click, or both, make one retry job."""
    return f"admin-retry:{job.pk}"


def control_view(
    request: HttpRequest, job_id: str, *, control: str, model_admin: "JobAdmin"
) -> HttpResponse:
    """A button of the job's page (POST only): pause, resume, cancel, or
    retry its failed items (a new job of the owner's, whose page follows)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_manage_permission(request):
        raise PermissionDenied
    job = get_object_or_404(Job, pk=job_id)
    try:
        if control == "retry":
            retry, created = services.job_retry_failed(
                job=job, owner=job.owner, idempotency_key=admin_retry_key(job=job)
            )
        else:
            job = _SERVICES[control](job=job)
    # Every refusal a service gives (a conflict, a quota, a job no longer
    # retryable) is told to the staff user, not raised.
    except CodedError as exc:
        messages.warning(request, exc.message)
        return redirect("admin:bulkyard_jobs_job_change", job.pk)
    if control == "retry":
        made = "created" if created else "made earlier from this page"
        messages.success(request, f"Retry job {retry.pk} {made} for the failed items of {job.pk}.")
        return redirect("admin:bulkyard_jobs_job_change", retry.pk)
    messages.success(request, f"Job {job.pk} is {job.get_status_display().lower()}.")
    return redirect("admin:bulkyard_jobs_job_change", job.pk)


_SERVICES = {
    "pause": services.job_pause,
    "resume": services.job_resume,
    "cancel": services.job_cancel,
}
