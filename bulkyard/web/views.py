"""Server-rendered pages for people: start a job, watch it, get its results."""

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bulkyard.jobs import selectors, services
from bulkyard.jobs.models import JobStatus
from bulkyard.jobs.throttling import JobCreateThrottle
from bulkyard.jobs.uploads import upload_attachment, upload_job_input
from bulkyard.web import reports
from bulkyard.web.forms import JobUploadForm


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = selectors.job_list(user=request.user)[:100]
    return render(request, "web/job_list.html", {"jobs": jobs})


@login_required
def job_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if (seconds := _throttled(request)) is not None:
            message = f"You are starting jobs faster than allowed: try again in {seconds} s."
            return _refused(request, message=message, wait=seconds)
        try:
            return _job_submit(request)
        except services.QuotaExceeded as exc:
            return _refused(request, message=f"Not started: {exc.message}.", wait=exc.retry_after)
    return render(request, "web/job_new.html", {"form": JobUploadForm(user=request.user)})


def _job_submit(request: HttpRequest) -> HttpResponse:
    # A user with no quota left is refused before the form is validated.
    services.quota_check_early(owner=request.user)  # type: ignore[arg-type]
    form = JobUploadForm(request.POST, request.FILES, user=request.user)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        job_input = None
        if upload is not None:  # kinds that find their own items (exports) take none
            job_input = upload_job_input(upload, input_format=upload.bulkyard_format)
        try:
            job, _ = services.job_create(
                owner=request.user,  # type: ignore[arg-type]
                kind=form.cleaned_data["kind"],
                params=form.cleaned_data["params"],
                job_input=job_input,
                chunk_size=form.cleaned_data["chunk_size"],
                attachments=[upload_attachment(a) for a in form.cleaned_data["attachments"]],
                priority=form.cleaned_data["priority"],
            )
        except (services.InvalidJobRequest, services.JobNotAllowed) as exc:
            form.add_error(None, exc.message)
        else:
            # Shown on the job's page: the job is started all the same.
            for warning in services.job_submission_warnings(job=job):
                messages.warning(request, f"Started, but: {warning.message}.")
            return redirect("web:job-detail", job_id=job.pk)
    return render(request, "web/job_new.html", {"form": form})


def _throttled(request: HttpRequest) -> int | None:
    """Seconds to wait when the user starts jobs (a retry is one) faster than
    the API allows them to; None when they may start one now."""
    throttle = JobCreateThrottle()
    if throttle.allow_user(request.user):  # type: ignore[arg-type]
        return None
    return max(math.ceil(throttle.wait() or 1), 1)


def _refused(request: HttpRequest, *, message: str, wait: int) -> HttpResponse:
    """The form again, filled in as it was sent (but the files), saying why
    and when to retry: a 429 with ``Retry-After``."""
    messages.error(request, message)
    fields = ("kind", "params", "chunk_size", "priority")
    form = JobUploadForm(
        initial={name: request.POST.get(name) for name in fields}, user=request.user
    )
    response = render(request, "web/job_new.html", {"form": form}, status=429)
    response["Retry-After"] = str(wait)
    return response


@login_required
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    results = reverse("jobs:job-results", kwargs={"job_id": job.pk})
    return render(
        request,
        "web/job_detail.html",
        {
            "job": job,
            "progress": selectors.job_progress(job),
            # Which of pause and resume shows first; live.js switches them as
            # the status changes.
            "pausable": job.status in (JobStatus.QUEUED, JobStatus.RUNNING),
            "websocket_path": f"/ws/jobs/{job.pk}/",
            # Shown at once for a finished job; job_page.js loads it again
            # when the live stream says the job has finished.
            "report_url": reverse("web:job-report", kwargs={"job_id": job.pk}),
            **reports.job_report(job=job),
            "api_path": reverse("jobs:job-detail", kwargs={"job_id": job.pk}),
            "output_url": reverse("jobs:job-output", kwargs={"job_id": job.pk}),
            # Shown once the job has finished, if a cancel left items (live.js).
            "unprocessed_url": f"{results}?outcome=unprocessed",
            "has_unprocessed": selectors.job_has_unprocessed(job),
            "downloads": [
                ("All results (CSV)", f"{results}?format=csv"),
                ("Failed items (CSV)", f"{results}?outcome=failed&format=csv"),
                ("All results (JSON Lines)", f"{results}?format=jsonl"),
            ],
        },
    )


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        services.job_cancel(job=job)
    except services.JobConflict as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, "Cancelling: running chunks stop after their current item.")
    return redirect("web:job-detail", job_id=job.pk)


@login_required
@require_POST
def job_pause(request: HttpRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        services.job_pause(job=job)
    except services.JobConflict as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, "Paused: no new chunk starts; running chunks finish first.")
    return redirect("web:job-detail", job_id=job.pk)


@login_required
@require_POST
def job_resume(request: HttpRequest, job_id: str) -> HttpResponse:
    job = selectors.job_get(user=request.user, job_id=job_id)
    try:
        services.job_resume(job=job)
    except (services.JobConflict, services.QuotaExceeded) as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, "Resumed.")
    return redirect("web:job-detail", job_id=job.pk)


@login_required
def job_report(request: HttpRequest, job_id: str) -> HttpResponse:
    """The job page's timings and, once the job has finished, its report: a
    fragment that job_page.js puts in the page."""
    job = selectors.job_get(user=request.user, job_id=job_id)
    return render(request, "web/job_report.html", {"job": job, **reports.job_report(job=job)})


@login_required
@require_POST
def job_retry(request: HttpRequest, job_id: str) -> HttpResponse:
    """Retry the failed items of a finished job as the API does (same
    service, throttle and quotas), then show the new job."""
    job = selectors.job_get(user=request.user, job_id=job_id)
    if (seconds := _throttled(request)) is not None:
        messages.error(
            request, f"You are starting jobs faster than allowed: try again in {seconds} s."
        )
        return redirect("web:job-detail", job_id=job.pk)
    key = reports.web_retry_key(job=job)
    try:
        services.quota_check_early(owner=request.user, idempotency_key=key)  # type: ignore[arg-type]
        retry, _ = services.job_retry_failed(
            job=job,
            owner=request.user,  # type: ignore[arg-type]
            idempotency_key=key,
        )
    except services.IdempotencyKeyMismatch as exc:
        # The key names this job's retry, made from another request (a
        # finished job's failures do not change, so hardly ever): show it.
        return redirect("web:job-detail", job_id=exc.job.pk)
    except (
        services.JobConflict,
        services.QuotaExceeded,
        services.InvalidJobRequest,
        services.JobNotAllowed,
    ) as exc:
        messages.warning(request, f"Not retried: {exc.message}.")
        return redirect("web:job-detail", job_id=job.pk)
    return redirect("web:job-detail", job_id=retry.pk)
