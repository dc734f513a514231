"""Reading a target's rows in chunks: a filter checked against the target
(``export_queryset``), a plan of primary-key ranges (``export_plan``) and the
rows of one range (``chunk_rows``). A data export writes them to a file; a
bulk email takes its recipients from them.

Consistency: each chunk reads its own key range when it runs (rows are not
frozen at planning). Rows created after planning with a higher key than the
last one planned are left out; a row changed while the job runs is read as it
was when its chunk read it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db.models import F, Max, QuerySet, Window
from django.db.models.functions import RowNumber

from bulkyard.jobs.sdk import PlannedChunk, WorkPlan
from bulkyard.targets.registry import ImportTarget

# Lookups a filter may use: comparisons on the exported fields, nothing that
# joins to other tables or runs arbitrary SQL.
FILTER_LOOKUPS = frozenset(
    {
        "exact",
        "iexact",
        "in",
        "gt",
        "gte",
        "lt",
        "lte",
        "range",
        "isnull",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
    }
)
ROWS_PER_FETCH = 2_000


class InvalidFilter(ValueError):
    """A filter names an unknown field or lookup, or holds a value of the wrong type."""


def export_queryset(
    target: ImportTarget, filters: Mapping[str, Any], *, rows: QuerySet[Any] | None = None
) -> QuerySet[Any]:
    """The target's rows matching ``filters`` (``{"city": "Paris", "age__gte": 30}``),
    among ``rows`` (a user's, ``target.rows_for(user)``; all when None, to
    check a filter), ordered by primary key; raises ``InvalidFilter`` with a
    reason for people."""
    allowed_fields = {*target.field_names, "pk"}
    for name in filters:
        field, _, lookup = name.partition("__")
        if field not in allowed_fields:
            raise InvalidFilter(
                f"filter {name!r}: unknown field {field!r}; "
                f"fields: {', '.join(sorted(allowed_fields))}"
            )
        if lookup and lookup not in FILTER_LOOKUPS:
            raise InvalidFilter(
                f"filter {name!r}: unknown lookup {lookup!r}; "
                f"lookups: {', '.join(sorted(FILTER_LOOKUPS))}"
            )
    try:
        base = rows if rows is not None else target.model._default_manager.all()
        return base.filter(**filters).order_by("pk")
    except (ValueError, TypeError, ValidationError, FieldError) as exc:
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise InvalidFilter(f"filter: {reason}") from None


def export_plan(queryset: QuerySet[Any], *, chunk_size: int) -> WorkPlan:
    """Cut the rows into chunks of ``chunk_size`` consecutive primary keys.

    The first key of every chunk comes from one numbered scan in the database
    (only every ``chunk_size``-th key travels back); each chunk then reads
    ``first key <= pk < next chunk's first key``, the last one up to the highest
    key seen now. An export with no rows gets one empty chunk, so it still
    produces a file (a CSV header).
    """
    total = queryset.count()
    last = queryset.aggregate(last=Max("pk"))["last"]
    if not total or last is None:
        return WorkPlan(total_items=0, chunks=[PlannedChunk(item_count=0, work={"empty": True})])
    starts = list(
        queryset.annotate(row=Window(RowNumber(), order_by=F("pk").asc()))
        .annotate(slot=(F("row") - 1) % chunk_size)
        .filter(slot=0)
        .values_list("pk", flat=True)
    )
    chunks = []
    for index, start in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else None
        work = {"pk_from": _json_key(start)}
        if following is None:
            work["pk_through"] = _json_key(last)
        else:
            work["pk_before"] = _json_key(following)
        count = min(chunk_size, total - index * chunk_size)
        chunks.append(PlannedChunk(item_count=count, work=work))
    return WorkPlan(total_items=total, chunks=chunks)


def _json_key(value: Any) -> Any:
    return value if isinstance(value, int | str) else str(value)


def chunk_rows(
    queryset: QuerySet[Any], work: Mapping[str, Any], fields: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """The rows of one planned chunk, streamed from a server-side cursor."""
    if work.get("empty"):
        return iter(())
    bounded = queryset.filter(pk__gte=work["pk_from"])
    if "pk_before" in work:
        bounded = bounded.filter(pk__lt=work["pk_before"])
    else:
        bounded = bounded.filter(pk__lte=work["pk_through"])
    return bounded.values_list(*fields).iterator(chunk_size=ROWS_PER_FETCH)
