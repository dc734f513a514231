"""Granting users what they may do with targets."""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Permission

from bulkyard.targets.access import Operation
from bulkyard.targets.registry import ImportTarget


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
