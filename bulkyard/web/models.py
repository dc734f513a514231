"""What the web pages keep between two requests."""

import uuid

from django.conf import settings
from django.db import models


def pending_upload_path(pending: "PendingUpload", filename: str) -> str:
    return f"pending/{pending.owner_id}/{pending.pk}/{filename}"


class PendingUpload(models.Model):
    """A file chosen in the new-job form whose submission was refused (a bad
    param, a quota): kept so that the corrected form need not send it again.
    The form carries its id; a job created from it consumes it; beat purges
    those left behind (``tasks.purge_pending_uploads``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_uploads"
    )
    file = models.FileField(upload_to=pending_upload_path, max_length=500)
    name = models.CharField(max_length=255)
    input_format = models.CharField(max_length=10)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.name
