"""Job kinds that exist only for the tests (loaded by BULKYARD_EXTRA_KIND_MODULES).

``test.echo`` returns each item as its output and can be told to fail chosen
items, to be slow, to crash a chunk on its first attempts, and to record every
committed item in a ledger table, which is how the tests see that no item is
ever committed twice.
"""

import time
from pathlib import Path
from typing import Any

from django.db import connection
from pydantic import BaseModel, ConfigDict

from bulkyard.jobs.kinds import (
    ChunkContext,
    ChunkResult,
    Item,
    ItemError,
    JobKind,
    SubmissionWarning,
)
from bulkyard.jobs.registry import register
from tests.support import targets  # noqa: F401 - registers the tests' shared target

LEDGER_TABLE = "test_item_ledger"


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_items: list[int] = []
    # Fail the items in fail_items only while this file exists.
    fail_while_exists: str | None = None
    sleep_per_item: float = 0.0
    # Raise from the chunk (not an item) on attempts up to this number.
    crash_attempts: int = 0
    ledger: bool = False
    # Add to each output the PostgreSQL backend that served the chunk.
    backend_pid: bool = False
    # A submission warning (code "test_warning") with this message.
    warning: str | None = None


@register
class EchoKind(JobKind[EchoParams]):
    name = "test.echo"
    title = "Echo (tests only)"
    params_model = EchoParams
    chunk_size = 10
    queue_class = "io"

    def submission_warnings(self, params: EchoParams) -> list[SubmissionWarning]:
        return [SubmissionWarning("test_warning", params.warning)] if params.warning else []

    def process_chunk(self, items: Any, ctx: ChunkContext[EchoParams]) -> ChunkResult:
        if ctx.attempt <= ctx.params.crash_attempts:
            raise RuntimeError(f"crash requested on attempt {ctx.attempt}")
        return super().process_chunk(items, ctx)

    def process_item(self, item: Item, ctx: ChunkContext[EchoParams]) -> Any:
        params = ctx.params
        if params.sleep_per_item:
            time.sleep(params.sleep_per_item)
        failing = params.fail_while_exists is None or Path(params.fail_while_exists).exists()
        if item.number in params.fail_items and failing:
            raise ItemError("requested_failure", f"item {item.number} was asked to fail")
        if params.backend_pid:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                return {**item.data, "backend_pid": cursor.fetchone()[0]}
        return item.data

    def commit_chunk(self, result: ChunkResult, ctx: ChunkContext[EchoParams]) -> None:
        if not ctx.params.ledger:
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {LEDGER_TABLE} (job_id, item_number) VALUES (%s, %s)",  # noqa: S608
                [(ctx.job_id, item.number) for item in result.items if item.succeeded],
            )
