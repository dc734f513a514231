"""Reads of the web pages."""

from typing import Any
from uuid import UUID

from bulkyard.web.models import PendingUpload


def pending_upload_get(
    *, owner: Any, upload_id: UUID | str | None, for_update: bool = False
) -> PendingUpload | None:
    """``owner``'s kept upload of that id; None for another user's, an
    unknown or malformed id, or one purged meanwhile. ``for_update`` locks
    its row until the transaction ends: a double-clicked submission then
    finds it consumed instead of making a second job of it."""
    try:
        pk = upload_id if isinstance(upload_id, UUID) else UUID(str(upload_id))
    except ValueError:  # None, "", or not a UUID: a field a client made up
        return None
    kept = PendingUpload.objects.filter(pk=pk, owner=owner)
    return (kept.select_for_update() if for_update else kept).first()
