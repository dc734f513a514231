"""Services of the data app that are not a job kind's own steps."""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Permission

from bulkyard.data.access import Operation
from bulkyard.data.models import ImportKey
from bulkyard.data.registry import ImportTarget


def import_ledger_clear(*, job_id: str) -> int:
    """Delete a finished import's key ledger; returns how many rows went.

    The rows matter only while the job's chunks commit. Deleting a million
    of them takes seconds, so the import's finish step hands this to a task
    instead of keeping the job unfinished meanwhile. Safe to run twice.
    """
    deleted, _ = ImportKey.objects.filter(job_id=job_id).delete()
    return deleted


def target_grant(*, user: Any, target: ImportTarget, operations: Sequence[Operation]) -> list[str]:
    """Give ``user`` the permissions the ``operations`` on ``target`` need;
    returns them (``app_label.codename``). Granting twice changes nothing."""
    wanted = sorted({perm for operation in operations for perm in target.permissions[operation]})
    for name in wanted:
        app_label, codename = name.split(".", 1)
        try:
            permission = Permission.objects.get(
                content_type__app_label=app_label, codename=codename
            )
        except Permission.DoesNotExist:
            raise LookupError(f"no permission {name!r} (target {target.name!r})") from None
        user.user_permissions.add(permission)
    return wanted
