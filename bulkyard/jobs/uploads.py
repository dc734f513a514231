"""Upload handling: stream to a temporary file, hash on the way, enforce the size cap."""

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from bulkyard.core.exceptions import PayloadTooLarge
from bulkyard.core.sizes import human_bytes
from bulkyard.jobs.services import AttachmentInput, JobInput


class LimitedHashingUploadHandler(TemporaryFileUploadHandler):
    """Writes every upload to a temporary file (never to memory), computes its
    SHA-256 as the bytes arrive (for idempotency fingerprints, no second read)
    and stops with 413 once it passes ``BULKYARD_MAX_UPLOAD_BYTES``."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self._digest = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        limit = settings.BULKYARD_MAX_UPLOAD_BYTES
        if self._received > limit:
            raise PayloadTooLarge(f"the upload is larger than the limit of {human_bytes(limit)}")
        self._digest.update(raw_data)
        super().receive_data_chunk(raw_data, start)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self._digest.hexdigest()  # type: ignore[attr-defined]
        return uploaded


def upload_sha256(upload: UploadedFile) -> str:
    """The SHA-256 the handler computed on arrival, or (for an upload that
    bypassed it, e.g. in memory) one computed now."""
    sha256 = getattr(upload, "sha256", None)
    if sha256 is None:
        digest = hashlib.sha256()
        for piece in upload.chunks():
            digest.update(piece)
        sha256 = digest.hexdigest()
    return str(sha256)


def upload_job_input(upload: UploadedFile, *, input_format: str) -> JobInput:
    """An uploaded input file as ``job_create`` takes it."""
    return JobInput(
        file=upload,
        format=input_format,
        name=upload.name or "",
        sha256=upload_sha256(upload),
        size=upload.size or 0,
    )


def upload_attachment(upload: UploadedFile) -> AttachmentInput:
    """An uploaded attachment as ``job_create`` takes it."""
    return AttachmentInput(
        file=upload,
        name=upload.name or "",
        content_type=upload.content_type or "",
        sha256=upload_sha256(upload),
        size=upload.size or 0,
    )
