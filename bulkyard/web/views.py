"""Server-rendered pages for people: start a job, watch it, get its results."""

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bulkyard.jobs import selectors, services
from bulkyard.jobs.api.previews import preview_data
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.jobs.throttling import JobCreateThrottle
from bulkyard.jobs.uploads import upload_attachment
from bulkyard.web import job_form, reports
from bulkyard.web import services as web_services
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
    form = JobUploadForm(user=request.user)
    context = job_form.page_context(user=request.user, form=form, pending=None)
    return render(request, "web/job_new.html", context)


def _job_submit(request: HttpRequest) -> HttpResponse:
    # A user with no quota left is refused before the form is validated.
    services.quota_check_early(owner=request.user)  # type: ignore[arg-type]
    form = JobUploadForm(request.POST, request.FILES, user=request.user)
    if form.is_valid() and (job := _job_from_form(request, form)) is not None:
        # Shown on the job's page: the job is started all the same.
        for warning in services.job_submission_warnings(job=job):
            messages.warning(request, f"Started, but: {warning.message}.")
        return redirect("web:job-detail", job_id=job.pk)
    # The chosen file is kept, so that the corrected form need not send it.
    pending = job_form.keep_upload(owner=request.user, form=form)
    context = job_form.page_context(
        user=request.user, form=form, pending=pending, data=request.POST
    )
    return render(request, "web/job_new.html", context)


def _job_from_form(request: HttpRequest, form: JobUploadForm) -> Job | None:
    """The job a valid form asks for; None, with the reasons on the form,
    when the service refuses it."""
    # One transaction, the kept file's row locked in it: a second click (or
    # the purge) waits, then finds the file consumed rather than making a
    # second job of it or reading a file deleted under it.
    with transaction.atomic():
        job_input, kept = job_form.chosen_input(owner=request.user, form=form, for_update=True)
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
            form.add_service_error(exc.message, getattr(exc, "details", None))
            return None
        finally:
            if kept is not None:
                kept.file.close()
        if kept is not None:  # made into the job
            web_services.pending_upload_discard(pending=kept)
        return job


@login_required
@require_POST
def job_preview(request: HttpRequest) -> JsonResponse:
    """The first rows of the form's file as the job would judge them (JSON,
    for job-form.js); counts against the job-creation rate."""
    if (seconds := _throttled(request)) is not None:
        message = f"You are asking faster than allowed: try again in {seconds} s."
        response = JsonResponse({"message": message}, status=429)
        response["Retry-After"] = str(seconds)
        return response
    form = JobUploadForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return JsonResponse({"message": " ".join(errors), "params": form.param_errors}, status=400)
    job_input, kept = job_form.chosen_input(owner=request.user, form=form)
    kind = form.cleaned_data["kind"]
    try:
        preview = services.job_preview(
            owner=request.user,  # type: ignore[arg-type]
            kind=kind,
            params=form.cleaned_data["params"],
            job_input=job_input,
        )
    except (services.InvalidJobRequest, services.JobNotAllowed, services.PreviewNotOffered) as exc:
        return JsonResponse({"message": exc.message, "code": exc.code}, status=400)
    finally:
        if kept is not None:
            kept.file.close()
    return JsonResponse(preview_data(kind=kind, preview=preview))


def _throttled(request: HttpRequest) -> int | None:
    """Seconds to wait when the user starts jobs (a retry is one) faster than
    the API allows them to; None when they may start one now."""
    throttle = JobCreateThrottle()
    if throttle.allow_user(request.user):  # type: ignore[arg-type]
        return None
    return max(math.ceil(throttle.wait() or 1), 1)


def _refused(request: HttpRequest, *, message: str, wait: int) -> HttpResponse:
    """The form again, filled in as it was sent (the file kept), saying why
    and when to retry: a 429 with ``Retry-After``."""
    messages.error(request, message)
    fields = ("kind", "params", "chunk_size", "priority")
    form = JobUploadForm(
        initial={name: request.POST.get(name) for name in fields}, user=request.user
    )
    sent = JobUploadForm(request.POST, request.FILES, user=request.user)
    sent.is_valid()  # only for its file, which is kept
    pending = job_form.keep_upload(owner=request.user, form=sent)
    context = job_form.page_context(
        user=request.user, form=form, pending=pending, data=request.POST
    )
    response = render(request, "web/job_new.html", context, status=429)
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
                # A finished job with no failure has none to download.
                *(
                    [("Failed items (CSV)", f"{results}?outcome=failed&format=csv")]
                    if job.failed_items or not job.is_finished
                    else []
                ),
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
