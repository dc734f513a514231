"""What a job kind is: the contract between the engine and each capability.

A kind declares its name, its parameter schema (a pydantic model, which gives
validation, typed access and the JSON Schema shown by ``GET /kinds/`` from one
declaration), the input formats it reads, its chunk size, its Celery queue, how
it processes a chunk and, optionally, a job-level finish step that runs once
after the last chunk. Each capability ships its kinds in its own app's
``kinds.py``; the registry finds them there.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from django.conf import settings
from pydantic import BaseModel, ConfigDict

from bulkyard.jobs.previews import Preview

logger = logging.getLogger(__name__)


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


ParamsT = TypeVar("ParamsT", bound=BaseModel)
T = TypeVar("T")


class CodedError(Exception):
    """An error with a machine-readable code and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ItemError(CodedError):
    """Raised by a kind to fail one item."""


class InputRejected(CodedError):
    """The input as a whole cannot be processed (bad header, missing column...)."""


class NotAllowed(CodedError):
    """The user may not run this job: it touches data they have no permission
    for (raised by ``JobKind.check_allowed``; the API answers 403)."""


@dataclass(frozen=True, slots=True)
class SubmissionWarning:
    """Something the submitter should know that does not stop the job (the
    mail server cannot be reached now): shown in the ``202`` answer."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Item:
    number: int
    data: Any
    # Set when the reader could not even decode the item (bad encoding, bad
    # JSON, wrong field count): the item fails without reaching the kind.
    error: ItemError | None = None


@dataclass(slots=True)
class ItemResultData:
    number: int
    succeeded: bool
    input: Any = None
    output: Any = None
    code: str = ""
    message: str = ""


@dataclass(slots=True)
class ChunkResult:
    items: list[ItemResultData] = field(default_factory=list)
    # Partial job-wide figures of this chunk, handed to the kind's finish step.
    summary: dict[str, Any] | None = None
    # Items counted without a record each: the successes of a kind that works
    # in bulk and stores none (an export), the items of a chunk that failed.
    counted_successes: int = 0
    counted_failures: int = 0
    # Whatever a kind hands from ``process_chunk`` to its ``commit_chunk``
    # (figures to write in the chunk's transaction); never stored as such.
    kind_data: Any = None

    @property
    def succeeded(self) -> int:
        return sum(1 for item in self.items if item.succeeded) + self.counted_successes

    @property
    def failed(self) -> int:
        return sum(1 for item in self.items if not item.succeeded) + self.counted_failures


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """One chunk of a kind that plans its own work: how many items it holds and
    what they are, as JSON the kind reads back in ``process_chunk`` (``ctx.work``)."""

    item_count: int
    work: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WorkPlan:
    total_items: int
    chunks: list[PlannedChunk]


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """A file sent with the job besides its input (an email's attachments)."""

    name: str
    content_type: str
    content: bytes


class ChunkContext(Generic[ParamsT]):
    """What a kind sees while it processes one chunk. What it may want to know
    about its job comes with it, so that a kind never queries the engine's
    models: the engine looks up what is costly (``root_job_id``,
    ``attachments``) when the kind first asks."""

    def __init__(
        self,
        *,
        job_id: str,
        chunk_sequence: int,
        params: ParamsT,
        attempt: int = 1,
        stop_check: Any = None,
        work: dict[str, Any] | None = None,
        pass_number: int = 1,
        owner_id: int | None = None,
        job_created_at: datetime | None = None,
        root_job_lookup: Callable[[str], str] | None = None,
        attachments_lookup: Callable[[str], Sequence[AttachedFile]] | None = None,
    ) -> None:
        self.job_id = job_id
        # The user who submitted the job: whose data it may read and write.
        self.owner_id = owner_id
        # When the job was submitted (a webhook's event timestamp).
        self.job_created_at = job_created_at
        # 2 in the chunks of a second pass (see ``JobKind.plan_second_pass``).
        self.pass_number = pass_number
        # The chunk's planned work, for kinds that take no input.
        self.work = work
        self.chunk_sequence = chunk_sequence
        # 1 on the first run of this chunk, more when it is run again after a crash.
        self.attempt = attempt
        self.params = params
        self._stop_check = stop_check
        self._root_job_lookup = root_job_lookup
        self._attachments_lookup = attachments_lookup
        self.stopped = False

    def should_stop(self) -> bool:
        """True once the job is being cancelled. Cheap: call it between items.

        Raises ``LeaseLost`` once another worker has taken the chunk over (the
        heartbeat that renews its lease found it gone), so that this run's
        results are discarded.
        """
        if self._stop_check is not None and self._stop_check():
            self.stopped = True
        return self.stopped

    @functools.cached_property
    def root_job_id(self) -> str:
        """The first job of this job's chain of "retry failed items" jobs (the
        job itself if it retries none): what stays the same across retries."""
        if self._root_job_lookup is None:
            return self.job_id
        return self._root_job_lookup(self.job_id)

    @functools.cached_property
    def attachments(self) -> Sequence[AttachedFile]:
        """The files sent with the job, in the order they were sent; read once,
        on first use (their total size is capped at submission)."""
        if self._attachments_lookup is None:
            return ()
        return tuple(self._attachments_lookup(self.job_id))


@dataclass(frozen=True, slots=True)
class FinishedChunk:
    """One chunk of the job as the finish step sees it, in sequence order."""

    sequence: int
    pass_number: int
    # Items of the chunk that succeeded (recorded or counted).
    succeeded: int
    # What ``process_chunk`` put in ``ChunkResult.summary``; None if it put
    # nothing there, or the chunk failed for good.
    summary: dict[str, Any] | None = None


@dataclass(slots=True)
class FinishContext(Generic[ParamsT]):
    job_id: str
    owner_id: int
    params: ParamsT
    cancelled: bool
    chunks: Sequence[FinishedChunk]
    counts: Mapping[str, int]

    @property
    def chunk_summaries(self) -> list[dict[str, Any]]:
        """The summaries of the chunks that have one, in sequence order."""
        return [chunk.summary for chunk in self.chunks if chunk.summary is not None]


@dataclass(slots=True)
class FinishResult:
    summary: dict[str, Any] | None = None
    # Storage name of a job-level output (a merged download), if any.
    output_file: str = ""


class JobKind(Generic[ParamsT]):
    """Base class of every job kind. Subclass, set the class attributes, register."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params_model: ClassVar[type[BaseModel]] = NoParams
    input_formats: ClassVar[tuple[str, ...]] = ("csv", "jsonl")
    # False for kinds that find their own items (an export reads a query):
    # they take no upload, and ``plan_work`` cuts their work into chunks.
    # Kinds that do either, as their params say, override ``takes_input``.
    reads_input: ClassVar[bool] = True
    # Columns (CSV) a file must have, checked before any item is processed.
    required_columns: ClassVar[tuple[str, ...]] = ()
    chunk_size: ClassVar[int] = 500
    max_chunk_size: ClassVar[int] = 50_000
    # "io" for kinds that wait on the network, "cpu" for kinds that compute.
    queue_class: ClassVar[str] = "io"
    # Kinds with an output per item store successes too; others only count them.
    stores_successes: ClassVar[bool] = True
    example_item: ClassVar[dict[str, Any] | None] = None
    # Params that make a sensible first job, shown by the new-job form's
    # "Example" button and the kinds list (validated by a test).
    example_params: ClassVar[dict[str, Any] | None] = None
    # Whether ``preview`` is implemented: a dry run of the input's first rows.
    offers_preview: ClassVar[bool] = False
    # The param whose value picks the columns an input may have (an import's
    # ``target``), or those the output holds (an export's); ``input_columns``
    # lists them per value.
    columns_param: ClassVar[str] = ""
    # Params that hold credentials, masked wherever a job is shown (names that
    # look secret, like "password" or "api_key", are masked anyway).
    secret_params: ClassVar[tuple[str, ...]] = ()
    # Keys of the per-item output, spread into their own CSV result columns.
    output_columns: ClassVar[tuple[str, ...]] = ()
    # Whether jobs of this kind may carry files besides their input.
    accepts_attachments: ClassVar[bool] = False
    # Failure codes that "retry failed items" leaves out: trying again could
    # not help, or would do harm (an email to an address already emailed).
    not_retried_codes: ClassVar[frozenset[str]] = frozenset()

    @property
    def queue(self) -> str:
        if self.queue_class == "cpu":
            return str(settings.BULKYARD_QUEUE_CPU)
        return str(settings.BULKYARD_QUEUE_IO)

    def effective_chunk_size(self) -> int:
        return int(settings.BULKYARD_CHUNK_SIZES.get(self.name, self.chunk_size))

    def parse_params(self, raw: Mapping[str, Any] | None) -> ParamsT:
        """Validate raw params; raises ``pydantic.ValidationError``."""
        return self.params_model.model_validate(raw or {})  # type: ignore[return-value]

    def check_columns(self, columns: list[str], params: ParamsT) -> None:
        """Reject an input whose header lacks what this kind needs."""
        missing = [c for c in self.columns_needed(params) if c not in columns]
        if missing:
            raise InputRejected(
                "missing_columns",
                f"the input lacks required column(s): {', '.join(missing)}; "
                f"found: {', '.join(columns) or 'none'}",
            )

    def columns_needed(self, params: ParamsT) -> tuple[str, ...]:
        return self.required_columns

    def max_file_bytes(self) -> int:
        """The largest file of a ZIP input one item may be."""
        return int(settings.BULKYARD_MAX_ITEM_BYTES)

    def takes_input(self, params: ParamsT) -> bool:
        """Whether a job with these params reads an upload (or inline items)."""
        return self.reads_input

    def check_allowed(self, params: ParamsT, *, user: Any) -> None:
        """Raise ``NotAllowed`` if ``user`` may not run a job with these params
        (checked before the job exists, and for its retries). Kinds that read
        or write data the user may lack permissions for override this."""

    def input_columns(self, *, user: Any) -> dict[str, list[dict[str, Any]]]:
        """For kinds with a ``columns_param``: per value of that param that
        ``user`` may use, the columns an input may have or the output holds
        (``name``, ``type``, ``required``), so that a form can offer the
        values and show their columns before anything is sent."""
        return {}

    def preview(self, items: Iterable[Item], params: ParamsT, *, owner: Any) -> Preview:
        """The first ``items`` of an input judged as the real run would judge
        them, writing nothing (only kinds with ``offers_preview``)."""
        raise NotImplementedError

    def submission_warnings(self, params: ParamsT) -> list[SubmissionWarning]:
        """What the submitter of an accepted job with these params should know
        (asked after the job is stored, and for its retries). Kinds that depend
        on a service that may be away override this; checks must be quick."""
        return []

    def plan_work(self, params: ParamsT, *, chunk_size: int, owner_id: int) -> WorkPlan:
        """The chunks of a job that takes no input (see ``takes_input``), for
        the user ``owner_id``. Raise ``InputRejected`` when there is nothing
        sensible to do."""
        raise NotImplementedError

    def process_item(self, item: Item, ctx: ChunkContext[ParamsT]) -> Any:
        """Process one item and return its output (or None); raise ItemError to fail it."""
        raise NotImplementedError

    def process_chunk(self, items: Iterable[Item], ctx: ChunkContext[ParamsT]) -> ChunkResult:
        """Process a chunk's items. The default calls ``process_item`` for each
        item, stopping between items once the job is cancelled. Kinds that work
        on a whole batch at once (COPY, one SMTP connection) override this."""
        result = ChunkResult()
        for item in _until_stopped(items, ctx):
            result.items.append(self.run_item(item, ctx))
        result.summary = self.summarize_chunk(result, ctx)
        return result

    def run_item(self, item: Item, ctx: ChunkContext[ParamsT]) -> ItemResultData:
        output = self.attempt(item, lambda: self.process_item(item, ctx))
        if isinstance(output, ItemResultData):
            return output
        # A success keeps no input: only failures are retried or reported with it.
        return ItemResultData(number=item.number, succeeded=True, output=output)

    def attempt(self, item: Item, work: Callable[[], T]) -> T | ItemResultData:
        """What ``work()`` returns for one item, or the item's failure: the
        error its reader found, the ``ItemError`` ``work`` raised, or anything
        else it raised (logged as a bug). ``work`` never returns an
        ``ItemResultData`` itself."""
        if item.error is not None:
            return failure(item, item.error.code, item.error.message)
        try:
            return work()
        except ItemError as exc:
            return failure(item, exc.code, exc.message)
        except Exception as exc:
            # A bug or an unexpected input in one item must not fail the other
            # items of the chunk; it is reported on that item and logged.
            logger.exception("%s: item %s raised", self.name, item.number)
            return failure(item, "unexpected_error", f"{type(exc).__name__}: {exc}")

    def summarize_chunk(
        self, result: ChunkResult, ctx: ChunkContext[ParamsT]
    ) -> dict[str, Any] | None:
        """Partial job-wide figures for this chunk (merged in ``finish``)."""
        return None

    def commit_chunk(self, result: ChunkResult, ctx: ChunkContext[ParamsT]) -> None:
        """Database writes of this chunk. Runs inside the transaction that marks
        the chunk done, so they commit exactly once with its results."""

    def plan_second_pass(self, ctx: FinishContext[ParamsT]) -> WorkPlan | None:
        """Work to do after every chunk is done and before ``finish``: figures
        that need the whole job first (a vocabulary's document frequencies).
        Its chunks run like the others, in parallel, with ``ctx.pass_number``
        2 and their ``ctx.work``; they read and update the job's results
        rather than the input, and count no items. None: no second pass."""
        return None

    def finish(self, ctx: FinishContext[ParamsT]) -> FinishResult | None:
        """Runs once after the last chunk (also for cancelled jobs)."""
        return None

    def cleanup(self, job_id: str) -> None:
        """Delete what only the job's run needed (scratch rows of the kind:
        text's document frequencies, an import's key ledger). The one place
        for it: runs once after the job's final status is saved and announced,
        beside the deletion of the job's part files, so that nobody waits for
        it. Should it fail, or its worker die first, ``jobs_purge`` deletes
        what is left with the job: keep such rows in models whose foreign key
        to the job cascades."""


def failures_by_code(result: ChunkResult) -> dict[str, int]:
    """How many of a chunk's items failed, by failure code (for its summary)."""
    return dict(Counter(item.code for item in result.items if not item.succeeded))


def summed_counts(summaries: Iterable[Mapping[str, Any] | None]) -> dict[str, int]:
    """Count maps of several chunks (by code, by status...) added up."""
    totals: Counter[str] = Counter()
    for counts in summaries:
        totals.update({key: int(count) for key, count in (counts or {}).items()})
    return dict(totals)


CONTENT_OMITTED = "content_omitted"


def failure(item: Item, code: str, message: str) -> ItemResultData:
    return ItemResultData(
        number=item.number, succeeded=False, input=_storable(item.data), code=code, message=message
    )


def _storable(data: Any) -> Any:
    """An item's data as a failure keeps it (JSON): a file from a ZIP keeps its
    name and size, not its bytes."""
    if isinstance(data, dict) and any(isinstance(value, bytes) for value in data.values()):
        kept = {key: value for key, value in data.items() if not isinstance(value, bytes)}
        # Marks an input "retry failed items" cannot send again.
        return {**kept, CONTENT_OMITTED: True}
    return data


def _until_stopped(items: Iterable[Item], ctx: ChunkContext[Any]) -> Iterator[Item]:
    for item in items:
        if ctx.should_stop():
            return
        yield item
