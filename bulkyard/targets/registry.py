"""Import targets: which models a data import may write, and how each row is
checked and converted before it reaches the database.

A target is declared in a few lines, in any installed app's ``targets.py``::

    register_target(name="contacts", model=Contact, key="email",
                    fields=("email", "name", "age", "city", "amount"))

Conversion rules come from the model fields themselves (type, ``max_length``,
``null``/``blank``, defaults, choices, decimal digits), so the checks match
what the database will accept. Converting one row is a handful of Python
calls: no model instance and no ``full_clean`` per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.fields import PositiveIntegerRelDbTypeMixin

from bulkyard.core.emails import is_email, normalise_email
from bulkyard.jobs.sdk import ItemError, NotAllowed
from bulkyard.targets.access import (
    Operation,
    TargetScope,
    check_scope_constraint,
    concrete_field,
    default_permissions,
)

MISSING = object()
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})


class ValueProblem(ValueError):
    """A value a column cannot hold; the message says why, for people."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    db_column: str
    convert: Callable[[Any], Any]
    required: bool
    default: Any


@dataclass(frozen=True)
class ImportTarget:
    name: str
    model: type[models.Model]
    key: str
    columns: tuple[Column, ...]
    permissions: Mapping[Operation, tuple[str, ...]]
    scope: TargetScope | None = None
    description: str = ""

    @property
    def table(self) -> str:
        return str(self.model._meta.db_table)

    def allows(self, user: Any, operation: Operation) -> bool:
        return bool(user.is_active and user.has_perms(self.permissions[operation]))

    def require(self, user: Any, operation: Operation) -> None:
        """Raise ``NotAllowed`` (a 403 before the job exists) unless ``user``
        holds the permissions ``operation`` needs on this target."""
        if not self.allows(user, operation):
            verb = {"import": "import into", "export": "export", "recipients": "email"}
            raise NotAllowed(
                "target_forbidden",
                f"you may not {verb[operation]} the target {self.name!r}: it needs the "
                f"permission(s) {', '.join(self.permissions[operation])}",
            )

    def scope_values(self, user: Any) -> dict[str, Any]:
        """The field values that make a row ``user``'s ({} for unscoped targets)."""
        return dict(self.scope.values(user)) if self.scope is not None else {}

    @property
    def scope_columns(self) -> tuple[str, ...]:
        """The database columns of the scope's fields, in its order."""
        if self.scope is None:
            return ()
        return tuple(str(concrete_field(self.model, f).column) for f in self.scope.fields)

    def rows_for(self, user: Any) -> models.QuerySet[Any]:
        """The rows ``user`` may read: theirs, or all of an unscoped target's."""
        return self.model._default_manager.filter(**self.scope_values(user))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    def convert_row(self, row: Mapping[str, Any], *, line: int) -> tuple[Any, ...]:
        """The row's values in ``columns`` order, converted and checked; raises
        ``ItemError`` naming the line, the column and the reason."""
        values = []
        for column in self.columns:
            raw = row.get(column.name, MISSING)
            if raw is MISSING or raw is None or (isinstance(raw, str) and not raw.strip()):
                if column.required:
                    raise ItemError(
                        "missing_value", f"line {line}, column {column.name!r}: a value is required"
                    )
                values.append(column.default)
                continue
            try:
                values.append(column.convert(raw))
            except ValueProblem as exc:
                raise ItemError(
                    "invalid_value", f"line {line}, column {column.name!r}: {exc}"
                ) from None
        return tuple(values)


_targets: dict[str, ImportTarget] = {}


def register_target(
    *,
    name: str,
    model: type[models.Model],
    key: str,
    fields: tuple[str, ...],
    scope: TargetScope | None = None,
    permissions: Mapping[Operation, tuple[str, ...]] | None = None,
    description: str = "",
) -> ImportTarget:
    """Make ``model`` a target of data imports, exports and email recipient
    queries under ``name``, upserted on ``key``.

    ``scope`` says which rows belong to whom (``owned_by("owner")``, or a
    ``TargetScope`` of your own for organisations or teams); without one,
    every permitted user shares every row, and ``key`` must be unique.
    ``permissions`` maps ``import``, ``export`` and ``recipients`` to the
    permissions each needs (by default the model's add + change, view, view).
    """
    if key not in fields:
        raise ValueError(f"target {name!r}: the key {key!r} must be one of the fields")
    if scope is None:
        if not getattr(model._meta.get_field(key), "unique", False):
            raise ValueError(f"target {name!r}: {model.__name__}.{key} must be unique")
    else:
        for field in scope.fields:
            concrete_field(model, field)
            if field in fields:
                # Or a row could name another user as its owner.
                raise ValueError(f"target {name!r}: the scope's field {field!r} cannot be imported")
        check_scope_constraint(model, scope=scope, key=key)
    chosen = {**default_permissions(model), **(permissions or {})}
    target = ImportTarget(
        name=name,
        model=model,
        key=key,
        columns=tuple(_column(model, field) for field in fields),
        permissions=chosen,
        scope=scope,
        description=description or (model.__doc__ or "").strip().split("\n")[0],
    )
    existing = _targets.get(name)
    if existing is not None and existing.model is not model:
        raise ValueError(f"target {name!r} is registered twice")
    _targets[name] = target
    return target


def get_target(name: str) -> ImportTarget:
    try:
        return _targets[name]
    except KeyError:
        known = ", ".join(sorted(_targets)) or "none"
        raise LookupError(f"unknown target {name!r}; known: {known}") from None


def all_targets() -> list[ImportTarget]:
    return [_targets[name] for name in sorted(_targets)]


def _column(model: type[models.Model], name: str) -> Column:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        raise ValueError(f"{model.__name__} has no field {name!r}") from None
    if not isinstance(field, models.Field) or field.many_to_many or field.one_to_many:
        raise ValueError(f"{model.__name__}.{name} cannot be imported")
    convert = _converter(field)
    if field.choices:
        convert = _with_choices(convert, field)
    has_default = field.has_default()
    required = not field.null and not has_default and not field.blank
    if has_default:
        default = field.get_default()
    elif field.null:
        default = None
    else:
        default = ""  # blank=True text fields
    return Column(
        name=name,
        db_column=str(field.column),
        convert=convert,
        required=required,
        default=default,
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    if isinstance(field, models.EmailField):
        return _email(field.max_length)
    if isinstance(field, models.CharField | models.TextField):
        return _string(field.max_length)
    if isinstance(field, models.BooleanField):
        return _boolean
    if isinstance(field, models.DecimalField):
        return _decimal(field.max_digits, field.decimal_places)
    if isinstance(field, models.IntegerField):  # also Small/Big/Positive*
        low, high = _integer_range(field)
        return _integer(low, high)
    if isinstance(field, models.FloatField):
        return _float
    if isinstance(field, models.DateTimeField):
        return _datetime
    if isinstance(field, models.DateField):
        return _date
    raise ValueError(f"fields of type {type(field).__name__} cannot be imported yet")


def _string(max_length: int | None) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _text(value)
        if max_length is not None and len(text) > max_length:
            raise ValueProblem(f"at most {max_length} characters, found {len(text)}")
        return text

    return convert


def _email(max_length: int | None) -> Callable[[Any], str]:
    as_string = _string(max_length)

    def convert(value: Any) -> str:
        text = as_string(value)
        if not is_email(text):
            raise ValueProblem(f"{text!r} is not an email address")
        # One spelling per address keeps "A@X.COM" and "a@x.com" from
        # becoming two rows.
        return normalise_email(text)

    return convert


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueProblem(f"{value!r} is not true or false")


def _integer_range(field: models.Field[Any, Any]) -> tuple[int, int]:
    low, high = -(2**31), 2**31 - 1
    if isinstance(field, models.BigIntegerField):
        low, high = -(2**63), 2**63 - 1
    elif isinstance(field, models.SmallIntegerField):
        low, high = -(2**15), 2**15 - 1
    if isinstance(field, PositiveIntegerRelDbTypeMixin):
        low = 0
    return low, high


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueProblem(f"{value!r} is not a whole number")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueProblem(f"{value!r} is not a whole number")
            number = int(value)
        else:
            try:
                number = int(_text(value))
            except ValueError:
                raise ValueProblem(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise ValueProblem(f"{number} is out of range ({low} to {high})")
        return number

    return convert


def _decimal(max_digits: int | None, places: int | None) -> Callable[[Any], Decimal]:
    quantum = Decimal(1).scaleb(-places) if places is not None else None
    # Django's DecimalValidator rule: at most max_digits - places digits
    # before the point.
    limit = Decimal(10) ** (max_digits - (places or 0)) if max_digits is not None else None

    def convert(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise ValueProblem(f"{value!r} is not a number")
        try:
            number = Decimal(_text(value) if not isinstance(value, float) else repr(value))
        except InvalidOperation:
            raise ValueProblem(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueProblem(f"{value!r} is not a finite number")
        # copy_abs, not abs(): abs() rounds to the decimal context, whose
        # exponent range a value like 1e999999999 overflows (decimal.Overflow,
        # which failed the whole chunk).
        if limit is not None and number.copy_abs() >= limit:
            raise ValueProblem(f"{value!r} has more than {max_digits} digits")
        if quantum is not None:
            try:
                exact = number.quantize(quantum)
            except InvalidOperation:  # more digits than the decimal context holds
                raise ValueProblem(f"{value!r} has more than {max_digits} digits") from None
            if exact != number:
                raise ValueProblem(f"{value!r} has more than {places} decimal places")
            number = exact
        return number

    return convert


def _float(value: Any) -> float:
    try:
        number = float(value if not isinstance(value, str) else value.strip())
    except (TypeError, ValueError):
        raise ValueProblem(f"{value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueProblem(f"{value!r} is not a finite number")
    return number


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(_text(value))
    except ValueError:
        raise ValueProblem(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _datetime(value: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(_text(value))
    except ValueError:
        raise ValueProblem(f"{value!r} is not a date and time (ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _with_choices(
    convert: Callable[[Any], Any], field: models.Field[Any, Any]
) -> Callable[[Any], Any]:
    allowed = {key for key, _ in field.flatchoices}

    def checked(value: Any) -> Any:
        converted = convert(value)
        if converted not in allowed:
            raise ValueProblem(f"{converted!r} is not one of {sorted(map(str, allowed))}")
        return converted

    return checked
