"""The ``data.import`` job kind: CSV / JSON Lines rows into a registered model."""

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bulkyard.data.models import ImportKey
from bulkyard.data.registry import get_target
from bulkyard.data.writers import write_rows
from bulkyard.jobs.kinds import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    InputRejected,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    failure,
)
from bulkyard.jobs.registry import register


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

    @field_validator("target")
    @classmethod
    def _known_target(cls, name: str) -> str:
        try:
            get_target(name)
        except LookupError as exc:
            raise ValueError(str(exc)) from None
        return name

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
    example_item = {"email": "ada@example.com", "name": "Ada", "age": 36, "city": "London"}

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

    def process_chunk(self, items: Iterable[Item], ctx: ChunkContext[ImportParams]) -> ChunkResult:
        target = get_target(ctx.params.target)
        fields = set(target.field_names)
        mapping = ctx.params.mapping
        result = ChunkResult()
        for item in items:
            if ctx.should_stop():
                break
            if item.error is not None:
                result.items.append(failure(item, item.error.code, item.error.message))
                continue
            if not isinstance(item.data, dict):
                result.items.append(
                    failure(item, "invalid_item", f"line {item.number}: expected an object")
                )
                continue
            row: dict[str, Any] = {
                str(mapping.get(name, name)): value for name, value in item.data.items()
            }
            unknown = sorted(set(row) - fields)
            try:
                if unknown:
                    raise ItemError(
                        "unknown_fields",
                        f"line {item.number}: unknown field(s) {', '.join(unknown)}",
                    )
                values = target.convert_row(row, line=item.number)
            except ItemError as exc:
                result.items.append(failure(item, exc.code, exc.message))
                continue
            # The converted values ride along to commit_chunk; successes are
            # counted, not stored.
            result.items.append(ItemResultData(number=item.number, succeeded=True, output=values))
        return result

    def commit_chunk(self, result: ChunkResult, ctx: ChunkContext[ImportParams]) -> None:
        valid = [(item.number, item.output) for item in result.items if item.succeeded]
        if ctx.params.dry_run:
            rejected: dict[int, tuple[str, str]] = {}
        else:
            target = get_target(ctx.params.target)
            rejected = write_rows(
                target=target, job_id=ctx.job_id, rows=valid, mode=ctx.params.mode
            )
        names = get_target(ctx.params.target).field_names
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
            ledger = ImportKey.objects.filter(job_id=ctx.job_id)
            keys = ledger.count()
            # Rows whose key came again on a later line: valid, but not the
            # values that were kept.
            summary["distinct_keys"] = keys
            summary["superseded_rows"] = max(ctx.counts["succeeded"] - keys, 0)
            ledger.delete()
        return FinishResult(summary=summary)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
