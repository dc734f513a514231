"""Writes of the web pages: the uploads the new-job form keeps for a retry."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from bulkyard.jobs.services import JobInput
from bulkyard.jobs.uploads import upload_sha256
from bulkyard.web.models import PendingUpload

# A kept file outlives a refused submission by this long at least: long
# enough to fix a form, short enough that abandoned files do not pile up.
PENDING_UPLOAD_MAX_AGE = timedelta(hours=1)


def pending_upload_keep(*, owner: User, upload: UploadedFile, input_format: str) -> PendingUpload:
    """Store ``upload`` for ``owner``'s next submission of the form, in place
    of any file kept before: one per owner, so that refused submissions
    (throttled ones too) cannot pile files up on disk."""
    for earlier in PendingUpload.objects.filter(owner=owner):
        pending_upload_discard(pending=earlier)
    pending = PendingUpload(
        owner=owner,
        name=(upload.name or "upload")[:255],
        input_format=input_format,
        size=upload.size or 0,
        sha256=upload_sha256(upload),
    )
    pending.file.save(pending.name, upload, save=False)
    pending.save(force_insert=True)
    return pending


def pending_upload_input(*, pending: PendingUpload) -> JobInput:
    """The kept file as ``job_create`` and ``job_preview`` take it: read in
    place for the checks and the preview, copied inside the storage into the
    job (server-side on S3)."""
    pending.file.open("rb")
    return JobInput(
        file=pending.file,
        format=pending.input_format,
        name=pending.name,
        sha256=pending.sha256,
        size=pending.size,
        stored_name=pending.file.name,
    )


def pending_upload_discard(*, pending: PendingUpload) -> None:
    """Delete a kept file: a job was made of it, or another file replaced it."""
    pending.file.close()
    pending.delete()
    # After commit: a rollback must not leave the row without its file.
    transaction.on_commit(lambda: pending.file.storage.delete(pending.file.name))


def pending_uploads_purge(*, max_age: timedelta = PENDING_UPLOAD_MAX_AGE) -> int:
    """Delete the kept files older than ``max_age``; returns how many."""
    stale = PendingUpload.objects.filter(created__lt=timezone.now() - max_age)
    purged = 0
    for pending in stale.iterator():
        pending_upload_discard(pending=pending)
        purged += 1
    return purged
