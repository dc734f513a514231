"""The data job kinds: ``data.import`` (CSV / JSON Lines rows into a registered
model) and ``data.export`` (a registered model's rows into a file)."""

import io
from collections.abc import Iterable
from typing import Any, Literal

from django.db.models import QuerySet
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bulkyard.data.models import ImportKey
from bulkyard.data.previews import import_preview
from bulkyard.data.rows import row_result
from bulkyard.data.services import import_ledger_clear
from bulkyard.data.writers import write_chunk
from bulkyard.jobs.sdk import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    InputRejected,
    Item,
    JobKind,
    Preview,
    WorkPlan,
    csv_header,
    part_writer,
    parts_merge,
    register,
    write_rows,
)
from bulkyard.targets.access import job_owner
from bulkyard.targets.queries import (
    InvalidFilter,
    chunk_rows,
    export_plan,
    export_queryset,
)
from bulkyard.targets.registry import get_target
from bulkyard.targets.selectors import targets_for

# Rows between two checks for cancellation: the check is cheap, not free.
STOP_CHECK_EVERY = 500


def _registered(name: str) -> str:
    try:
        get_target(name)
    except LookupError as exc:
        raise ValueError(str(exc)) from None
    return name


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="A registered import target, e.g. 'contacts'.")
    mode: Literal["upsert", "insert"] = Field(
        "upsert",
        description="upsert: insert new keys, update existing ones. insert: new keys only; "
        "rows whose key exists fail with already_exists.",
    )
    dry_run: bool = Field(False, description="Validate every row and report; write nothing.")
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Input column (or JSON key) -> target field, where the names differ.",
    )

    _known_target = field_validator("target")(_registered)

    @model_validator(mode="after")
    def _mapping_names_fields(self) -> "ImportParams":
        fields = set(get_target(self.target).field_names)
        unknown = sorted(set(self.mapping.values()) - fields)
        if unknown:
            raise ValueError(
                f"mapping names unknown field(s) {', '.join(unknown)}; "
                f"fields of {self.target!r}: {', '.join(sorted(fields))}"
            )
        return self


@register
class DataImportKind(JobKind[ImportParams]):
    """Validated rows upserted (or inserted) into a registered model."""

    name = "data.import"
    title = "Data import"
    description = (
        "Rows of a CSV or JSON Lines file (gzip allowed) checked against a registered "
        "model and upserted on its unique key, through COPY on PostgreSQL. Invalid rows are "
        "reported with line, column and reason. A key repeated in the file: the last row wins."
    )
    params_model = ImportParams
    chunk_size = 10_000
    max_chunk_size = 100_000
    queue_class = "io"
    stores_successes = False
    # A row that failed the target's checks fails them again, unchanged: a
    # retry would only fail again (and offer another retry). A key that
    # already existed may be gone by then: that one is retried.
    not_retried_codes = frozenset(
        {"invalid_item", "unknown_fields", "missing_value", "invalid_value"}
    )
    example_item = {"email": "ada@example.com", "name": "Ada", "age": 36, "city": "London"}
    example_params = {"target": "contacts", "mode": "upsert", "dry_run": False}
    offers_preview = True
    columns_param = "target"

    def input_columns(self, *, user: Any) -> dict[str, list[dict[str, Any]]]:
        return _fields_of_targets(user, operation="import")

    def preview(self, items: Iterable[Item], params: ImportParams, *, owner: Any) -> Preview:
        return import_preview(
            items=items,
            target_name=params.target,
            mode=params.mode,
            mapping=params.mapping,
            owner=owner,
        )

    def check_columns(self, columns: list[str], params: ImportParams) -> None:
        target = get_target(params.target)
        fields = set(target.field_names)
        mapped = [params.mapping.get(column, column) for column in columns]
        unknown = [c for c, f in zip(columns, mapped, strict=True) if f not in fields]
        if unknown:
            raise InputRejected(
                "unknown_columns",
                f"column(s) {', '.join(unknown)} match no field of {target.name!r} "
                f"({', '.join(target.field_names)}); rename them or map them in params.mapping",
            )
        missing = [field for field in target.required_fields if field not in mapped]
        if missing:
            raise InputRejected(
                "missing_columns",
                f"required column(s) missing: {', '.join(missing)}",
            )

    def check_allowed(self, params: ImportParams, *, user: Any) -> None:
        get_target(params.target).require(user, "import")

    def process_chunk(self, items: Iterable[Item], ctx: ChunkContext[ImportParams]) -> ChunkResult:
        target = get_target(ctx.params.target)
        fields = set(target.field_names)
        mapping = ctx.params.mapping
        result = ChunkResult()
        for position, item in enumerate(items):
            if position % STOP_CHECK_EVERY == 0 and ctx.should_stop():
                break
            # The converted values ride along to commit_chunk; successes are
            # counted, not stored.
            result.items.append(row_result(item, target=target, fields=fields, mapping=mapping))
        return result

    def commit_chunk(self, result: ChunkResult, ctx: ChunkContext[ImportParams]) -> None:
        target = get_target(ctx.params.target)
        valid = [(item.number, item.output) for item in result.items if item.succeeded]
        if ctx.params.dry_run:
            rejected: dict[int, tuple[str, str]] = {}
        else:
            rejected = write_chunk(
                target=target,
                job_id=ctx.job_id,
                rows=valid,
                mode=ctx.params.mode,
                scope=target.scope_values(job_owner(ctx.owner_id)),
            )
        names = target.field_names
        for item in result.items:
            if item.succeeded and item.number in rejected:
                item.succeeded = False
                item.code, item.message = rejected[item.number]
                item.input = {n: _jsonable(v) for n, v in zip(names, item.output, strict=True)}
            item.output = None

    def finish(self, ctx: FinishContext[ImportParams]) -> FinishResult:
        params = ctx.params
        summary: dict[str, Any] = {
            "target": params.target,
            "mode": params.mode,
            "dry_run": params.dry_run,
            "valid_rows": ctx.counts["succeeded"],
            "invalid_rows": ctx.counts["failed"],
        }
        if not params.dry_run:
            keys = ImportKey.objects.filter(job_id=ctx.job_id).count()
            # Rows whose key came again on a later line: valid, but not the
            # values that were kept.
            summary["distinct_keys"] = keys
            summary["superseded_rows"] = max(ctx.counts["succeeded"] - keys, 0)
        return FinishResult(summary=summary)

    def cleanup(self, job_id: str) -> None:
        # The key ledger mattered only while chunks committed; the finish
        # step counted it above.
        import_ledger_clear(job_id=job_id)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


class ExportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="A registered target, e.g. 'contacts'.")
    format: Literal["csv", "jsonl"] = Field("csv", description="Format of the exported file.")
    fields: list[str] | None = Field(
        None, description="Fields to export, in this order; all of the target's when omitted."
    )
    filter: dict[str, Any] = Field(
        default_factory=dict,
        description="Which rows: field lookups, ANDed, e.g. "
        '{"city": "Paris", "age__gte": 30, "email__iendswith": "@example.com"}.',
    )
    gzip: bool = Field(False, description="Compress the file with gzip.")
    formula_safe: bool = Field(
        True,
        description="CSV only: prefix text cells that a spreadsheet would run as a formula "
        "(=, +, -, @) with a quote.",
    )

    _known_target = field_validator("target")(_registered)

    @model_validator(mode="after")
    def _fields_and_filter_exist(self) -> "ExportParams":
        target = get_target(self.target)
        if self.fields is not None:
            unknown = [name for name in self.fields if name not in target.field_names]
            if unknown or not self.fields or len(set(self.fields)) != len(self.fields):
                raise ValueError(
                    f"fields must name distinct fields of {self.target!r} "
                    f"({', '.join(target.field_names)}); unknown: {', '.join(unknown) or 'none'}"
                )
        try:
            export_queryset(target, self.filter)
        except InvalidFilter as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.fields) if self.fields else get_target(self.target).field_names

    def queryset(self, user: Any) -> QuerySet[Any]:
        """The rows to export: among ``user``'s, those the filter names."""
        target = get_target(self.target)
        return export_queryset(target, self.filter, rows=target.rows_for(user))


@register
class DataExportKind(JobKind[ExportParams]):
    """The rows of a registered model that match a filter, into one file."""

    name = "data.export"
    title = "Data export"
    description = (
        "Rows of a registered model matching a filter, written by workers in primary-key "
        "ranges to CSV or JSON Lines (gzip optional), downloadable from the job's output link. "
        "CSV cells that could run as spreadsheet formulas are neutralised."
    )
    params_model = ExportParams
    input_formats = ()
    reads_input = False
    chunk_size = 50_000
    max_chunk_size = 500_000
    queue_class = "io"
    stores_successes = False
    example_params = {"target": "contacts", "format": "csv", "filter": {"city": "London"}}
    columns_param = "target"

    def input_columns(self, *, user: Any) -> dict[str, list[dict[str, Any]]]:
        # What a filter may name and the file will hold.
        return _fields_of_targets(user, operation="export")

    def check_allowed(self, params: ExportParams, *, user: Any) -> None:
        get_target(params.target).require(user, "export")

    def plan_work(self, params: ExportParams, *, chunk_size: int, owner_id: int) -> WorkPlan:
        return export_plan(params.queryset(job_owner(owner_id)), chunk_size=chunk_size)

    def process_chunk(self, items: Iterable[Item], ctx: ChunkContext[ExportParams]) -> ChunkResult:
        params = ctx.params
        assert ctx.work is not None
        rows = chunk_rows(params.queryset(job_owner(ctx.owner_id)), ctx.work, params.columns)
        with part_writer(job_id=ctx.job_id, sequence=ctx.chunk_sequence) as (part, sink):
            text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
            count = write_rows(
                _checking_stop(rows, ctx),
                text,
                fields=params.columns,
                format=params.format,
                formula_safe=params.formula_safe,
            )
            text.flush()
            text.detach()
        if ctx.stopped:
            return ChunkResult()
        # The part is named in the chunk's summary, committed with the chunk:
        # the finish step merges exactly the parts of committed chunks.
        return ChunkResult(counted_successes=count, summary={"part": part})

    def finish(self, ctx: FinishContext[ExportParams]) -> FinishResult:
        params = ctx.params
        if ctx.cancelled:
            return FinishResult(summary={"target": params.target, "cancelled": True})
        if ctx.counts["failed"]:
            raise ExportIncomplete(
                f"{ctx.counts['failed']} row(s) were in chunks that kept failing; "
                "no file was written; run the export again"
            )
        parts = [summary["part"] for summary in ctx.chunk_summaries]
        header = csv_header(params.columns) if params.format == "csv" else b""
        extension = params.format + (".gz" if params.gzip else "")
        output, size = parts_merge(
            parts=parts,
            output_name=f"jobs/{ctx.owner_id}/outputs/{params.target}-{ctx.job_id}.{extension}",
            header=header,
            compress=params.gzip,
        )
        return FinishResult(
            summary={
                "target": params.target,
                "format": params.format,
                "gzip": params.gzip,
                "fields": list(params.columns),
                "filter": params.filter,
                "rows": ctx.counts["succeeded"],
                "bytes": size,
            },
            output_file=output,
        )


class ExportIncomplete(Exception):
    """Some rows could not be exported; a partial file would look complete."""


def _checking_stop(rows: Iterable[tuple[Any, ...]], ctx: ChunkContext[Any]) -> Iterable[Any]:
    for number, row in enumerate(rows):
        if number % STOP_CHECK_EVERY == 0 and ctx.should_stop():
            return
        yield row


def _fields_of_targets(user: Any, *, operation: str) -> dict[str, list[dict[str, Any]]]:
    """The fields of each target ``user`` may use for ``operation``, by name."""
    return {
        target["name"]: target["fields"]
        for target in targets_for(user)
        if operation in target["operations"]
    }
