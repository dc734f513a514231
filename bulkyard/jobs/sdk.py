"""The kind SDK: everything a job kind may use from the engine, and nothing else.

A kind app (``bulkyard.data``, ``.mail``, ``.text``, ``.images``,
``.outbound``, or your own) imports from ``bulkyard.jobs`` only this module;
``lint-imports`` (run by ``bin/test``, contracts in ``pyproject.toml``) fails
otherwise. The engine's models, services and internals may change without a
kind noticing, as long as what is named here keeps its meaning.

What it holds:

- the contract: ``JobKind`` and what its steps take and return (the contexts,
  items and results, work plans), the errors a kind raises, ``register``;
- a dry-run preview of an input's first rows (``Preview``), for kinds
  that offer one (``JobKind.offers_preview``);
- part files and row writing, for kinds that write a job-level output file;
- the send-once ledger, for kinds whose items have effects outside the
  database (an email, an HTTP request): one protocol, documented on
  ``SendOnceLedger``.

Helpers that are not about jobs live in ``bulkyard.core`` and any part of the
project may use them: retry backoff (``core.backoff``), secret masking
(``core.secrets``), CSV formula neutralising (``core.spreadsheets``), the
event-loop factory (``core.event_loops``), outbound HTTP (``core.http``).
Pieces two kinds share live in packages of their own (``bulkyard.targets``),
never in one of the kinds (docs/decisions/0012-kind-sdk.md).
"""

from bulkyard.jobs.kinds import (
    CONTENT_OMITTED,
    AttachedFile,
    ChunkContext,
    ChunkResult,
    CodedError,
    FinishContext,
    FinishedChunk,
    FinishResult,
    InputRejected,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    NoParams,
    NotAllowed,
    PlannedChunk,
    SubmissionWarning,
    WorkPlan,
    failure,
    failures_by_code,
    summed_counts,
)
from bulkyard.jobs.ledger import LedgerStatus, SendOnceLedger, SendOnceQuerySet
from bulkyard.jobs.parts import (
    csv_header,
    csv_line,
    json_ascii,
    json_line,
    json_text,
    part_open,
    part_writer,
    parts_discard,
    parts_merge,
    write_rows,
    zip_parts_merge,
)
from bulkyard.jobs.previews import Preview, PreviewError, PreviewRow
from bulkyard.jobs.registry import register

__all__ = [
    "CONTENT_OMITTED",
    "AttachedFile",
    "ChunkContext",
    "ChunkResult",
    "CodedError",
    "FinishContext",
    "FinishResult",
    "FinishedChunk",
    "InputRejected",
    "Item",
    "ItemError",
    "ItemResultData",
    "JobKind",
    "LedgerStatus",
    "NoParams",
    "NotAllowed",
    "PlannedChunk",
    "Preview",
    "PreviewError",
    "PreviewRow",
    "SendOnceLedger",
    "SendOnceQuerySet",
    "SubmissionWarning",
    "WorkPlan",
    "csv_header",
    "csv_line",
    "failure",
    "failures_by_code",
    "json_ascii",
    "json_line",
    "json_text",
    "part_open",
    "part_writer",
    "parts_discard",
    "parts_merge",
    "register",
    "summed_counts",
    "write_rows",
    "zip_parts_merge",
]
