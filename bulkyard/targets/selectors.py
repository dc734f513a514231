"""Reads of the targets app for the API."""

from typing import Any

from bulkyard.targets.access import OPERATIONS, concrete_field
from bulkyard.targets.registry import all_targets


def targets_for(user: Any) -> list[dict[str, Any]]:
    """The targets ``user`` may do something with, each with its fields, key,
    whether its rows are per user, and what the user may do."""
    listed = []
    for target in all_targets():
        allowed = [operation for operation in OPERATIONS if target.allows(user, operation)]
        if not allowed:
            continue
        fields = [
            {
                "name": column.name,
                "type": concrete_field(target.model, column.name).get_internal_type(),
                "required": column.required,
            }
            for column in target.columns
        ]
        listed.append(
            {
                "name": target.name,
                "description": target.description,
                "key": target.key,
                "scoped": target.scope is not None,
                "fields": fields,
                "operations": allowed,
            }
        )
    return listed
