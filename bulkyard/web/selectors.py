"""Reads of the web pages."""

from typing import Any
from uuid import UUID

from bulkyard.web.models import PendingUpload


def pending_upload_get(*, owner: Any, upload_id: UUID | str | None) -> PendingUpload | None:
    """``owner``'s kept upload of that id; None for another user's, an
    unknown or malformed id, or one purged meanwhile."""
    if not upload_id:
        return None
    try:
        return PendingUpload.objects.get(pk=upload_id, owner=owner)
    except (PendingUpload.DoesNotExist, ValueError):
        return None
