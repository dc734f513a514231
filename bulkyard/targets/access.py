"""Who may do what with which rows of a target.

A target names the permissions each operation needs — ``import`` (writing
rows), ``export`` (reading them into a file), ``recipients`` (reading them as
the recipients of an email job) — by default the model's own ``add`` and
``change``, ``view`` and ``view``, so that a plain API user can do nothing with
a target until granted. A scoped target also says which rows belong to whom
(``TargetScope``): imports write the caller's scope into every row and match
keys only among the caller's rows; exports and recipient queries read only
the caller's rows. Unscoped targets are shared by everyone who holds the
permission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.db import models

Operation = Literal["import", "export", "recipients"]
OPERATIONS: tuple[Operation, ...] = ("import", "export", "recipients")


@dataclass(frozen=True)
class TargetScope:
    """The rows of a target that belong to a user: those whose ``fields``
    hold the values ``values(user)`` returns (``{field: value}``, values as
    the database stores them, e.g. a primary key for a foreign key).

    The model must have a unique constraint on exactly the scope's fields
    plus the target's key, and the key must not be unique on its own: two
    users may each have a row with the same key."""

    fields: tuple[str, ...]
    values: Callable[[Any], Mapping[str, Any]]


def owned_by(field: str) -> TargetScope:
    """Rows belong to the user in the foreign key ``field`` (to the user model)."""
    return TargetScope(fields=(field,), values=lambda user: {field: user.pk})


def default_permissions(model: type[models.Model]) -> dict[Operation, tuple[str, ...]]:
    """The model's own permissions: ``add`` and ``change`` to import (an upsert
    does both), ``view`` to export or email."""
    app, name = model._meta.app_label, model._meta.model_name
    return {
        "import": (f"{app}.add_{name}", f"{app}.change_{name}"),
        "export": (f"{app}.view_{name}",),
        "recipients": (f"{app}.view_{name}",),
    }


def check_scope_constraint(model: type[models.Model], *, scope: TargetScope, key: str) -> None:
    """Refuse a scope the model's constraints do not back: imports upsert on
    the scope's fields plus the key, so a unique constraint on exactly those
    must exist, and none on the key alone (it would make one user's row block
    another's)."""
    wanted = {*scope.fields, key}
    constraints = [
        set(constraint.fields)
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
        and constraint.condition is None
        and constraint.fields
    ] + [set(fields) for fields in model._meta.unique_together]
    if wanted not in constraints:
        raise ValueError(
            f"{model.__name__} needs a UniqueConstraint on {sorted(wanted)} to scope its "
            f"key {key!r} by {list(scope.fields)}"
        )
    if getattr(model._meta.get_field(key), "unique", False):
        raise ValueError(
            f"{model.__name__}.{key} is unique on its own: one user's row would block "
            "another's; make it unique together with the scope's fields only"
        )


def job_owner(owner_id: int | None) -> Any:
    """The user a job runs for (``ChunkContext.owner_id``), to scope its rows."""
    if owner_id is None:
        raise ValueError("the job's owner is unknown")
    return get_user_model()._default_manager.get(pk=owner_id)


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """A model's own column, by field name (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.many_to_many or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column of its table")
    return field
