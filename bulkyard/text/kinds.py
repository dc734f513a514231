"""Text job kinds."""

import functools
import heapq
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import IO, Any, Literal

from django.conf import settings
from django.core.files.storage import default_storage
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bulkyard.jobs.kinds import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    PlannedChunk,
    WorkPlan,
)
from bulkyard.jobs.models import Chunk
from bulkyard.jobs.parts import (
    csv_header,
    part_writer,
    parts_merge,
    write_rows,
)
from bulkyard.jobs.registry import register
from bulkyard.text import keywords
from bulkyard.text.pending import (
    BATCH_CHARACTERS,
    BATCH_DOCUMENTS,
    PendingBatch,
    PendingWriter,
    csv_cells,
    keywords_cell,
    pending_batches,
)
from bulkyard.text.pii import PII_TYPES, PiiType, Redactor
from bulkyard.text.processing import (
    WORD,
    CompiledRule,
    DocumentResult,
    Pipeline,
    Rule,
    RuleError,
    compile_rules,
)
from bulkyard.text.services import (
    term_counts,
    term_counts_add,
    term_counts_clear,
)

SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


class TextStatsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", description="Field (CSV column) holding the text.")
    id_field: str | None = Field(
        "id", description="Field echoed into each result to identify the document."
    )
    words_per_minute: int = Field(230, ge=50, le=2000, description="Reading speed.")
    top_words: int = Field(5, ge=0, le=50, description="Most frequent words per document.")
    min_word_length: int = Field(3, ge=1, le=20)
    max_characters: int = Field(
        1_000_000, ge=1, le=10_000_000, description="Longer documents fail with too_large."
    )


def text_of(item: Item, text_field: str) -> str:
    """The document an item holds, or ``ItemError`` saying what is wrong."""
    if not isinstance(item.data, dict):
        raise ItemError("invalid_item", "the item must be an object with a text field")
    if text_field not in item.data:
        raise ItemError("missing_field", f"the item has no {text_field!r} field")
    text = item.data[text_field]
    if not isinstance(text, str):
        raise ItemError(
            "invalid_type", f"{text_field!r} must be a string, not {type(text).__name__}"
        )
    return text


def document_totals(totals: Counter[str]) -> dict[str, Any]:
    """A job's document figures, from the chunks' counts added up."""
    documents = totals["documents"]
    return {
        "documents": documents,
        "characters": totals["characters"],
        "words": totals["words"],
        "sentences": totals["sentences"],
        "average_words": round(totals["words"] / documents, 1) if documents else 0,
    }


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


@register
class TextStatsKind(JobKind[TextStatsParams]):
    """Counts characters, words, sentences and lines per document, with reading
    time and the most frequent words, plus job-wide totals."""

    name = "text.stats"
    title = "Text statistics"
    description = (
        "Per document: characters, words, sentences, lines, reading time and most frequent "
        "words. Job summary: totals and averages."
    )
    params_model = TextStatsParams
    chunk_size = 1000
    queue_class = "cpu"
    output_columns = (
        "id",
        "characters",
        "words",
        "sentences",
        "lines",
        "reading_seconds",
        "top_words",
    )
    example_item = {"id": "doc-1", "text": "Bulk work belongs in workers. Not in requests!"}

    def columns_needed(self, params: TextStatsParams) -> tuple[str, ...]:
        return (params.text_field,)

    def process_item(self, item: Item, ctx: ChunkContext[TextStatsParams]) -> dict[str, Any]:
        params = ctx.params
        text = text_of(item, params.text_field)
        if len(text) > params.max_characters:
            raise ItemError(
                "too_large",
                f"the text has {len(text)} characters; the limit is {params.max_characters}",
            )
        words = WORD.findall(text)
        output: dict[str, Any] = {}
        if params.id_field and params.id_field in item.data:
            output["id"] = item.data[params.id_field]
        sentences = len(SENTENCE_END.findall(text))
        if not sentences and words:
            sentences = 1
        output.update(
            characters=len(text),
            words=len(words),
            sentences=sentences,
            lines=text.count("\n") + 1 if text else 0,
            reading_seconds=round(len(words) * 60 / params.words_per_minute, 1),
        )
        if params.top_words:
            counts = Counter(
                w.lower() for w in words if len(w) >= params.min_word_length and not w.isdigit()
            )
            output["top_words"] = [w for w, _ in counts.most_common(params.top_words)]
        return output

    def summarize_chunk(
        self, result: ChunkResult, ctx: ChunkContext[TextStatsParams]
    ) -> dict[str, Any]:
        totals = Counter[str]()
        for item in result.items:
            if item.succeeded:
                totals["documents"] += 1
                for key in ("characters", "words", "sentences"):
                    totals[key] += item.output[key]
        return dict(totals)

    def finish(self, ctx: FinishContext[TextStatsParams]) -> FinishResult:
        totals = Counter[str]()
        for partial in ctx.chunk_summaries:
            for key, value in partial.items():
                totals[key] += _number(value)
        summary: dict[str, Any] = {
            **document_totals(totals),
            "reading_minutes": round(totals["words"] / ctx.params.words_per_minute, 1),
        }
        return FinishResult(summary=summary)


# --- text.process -------------------------------------------------------------

Step = Literal["clean", "analyse", "redact", "transform"]


def _default_steps() -> list[Step]:
    return ["clean", "analyse"]


class CleanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    normalize: Literal["NFC", "NFKC", "none"] = Field(
        "NFC", description="Unicode normalisation; NFKC also folds compatibility forms (ﬁ → fi)."
    )
    html: Literal["auto", "always", "never"] = Field(
        "auto", description="HTML to text: 'auto' when the document holds tags."
    )
    collapse_whitespace: bool = True


class AnalyseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: bool = True
    keywords: int = Field(
        10, ge=0, le=100, description="Top keywords per document by TF-IDF over the job; 0: none."
    )
    words_per_minute: int = Field(230, ge=50, le=2000)


class RedactParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[PiiType] = Field(default_factory=lambda: list(PII_TYPES))
    placeholder: str = Field(
        "[{TYPE}]", max_length=100, description="'{TYPE}' / '{type}' become the kind found."
    )
    phone_region: str | None = Field(
        None,
        description="Region of numbers written without a country code, e.g. 'GB'; without "
        "it only international numbers (+44 …) are found.",
    )

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        import phonenumbers

        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region libphonenumber knows (e.g. 'GB', 'US')")
        return value.upper() if value else None


class RuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    find: str = Field(min_length=1, max_length=1000)
    replace: str = Field("", max_length=1000, description="'\\1' refers to a group of a regex.")
    regex: bool = Field(False, description="A regular expression (re2 syntax) or a literal.")
    ignore_case: bool = False


class TransformParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleParams] = Field(default_factory=list, max_length=100)
    _compiled: list[CompiledRule] = PrivateAttr(default_factory=list)
    case: Literal["lower", "upper", "title"] | None = None
    truncate: int | None = Field(None, ge=1, description="Keep at most this many characters.")

    @model_validator(mode="after")
    def _rules_compile(self) -> "TransformParams":
        try:
            self._compiled = compile_rules([Rule(**rule.model_dump()) for rule in self.rules])
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        return self

    def compiled(self) -> list[CompiledRule]:
        """The rules, compiled once, when the params were validated."""
        return self._compiled


class TextProcessParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", description="Field (CSV column) holding the document.")
    id_field: str | None = Field("id", description="Field echoed into each result.")
    steps: list[Step] = Field(
        default_factory=_default_steps,
        min_length=1,
        description="The operations, in the order they run.",
    )
    clean: CleanParams = Field(default_factory=lambda: CleanParams.model_validate({}))
    analyse: AnalyseParams = Field(default_factory=lambda: AnalyseParams.model_validate({}))
    redact: RedactParams = Field(default_factory=lambda: RedactParams.model_validate({}))
    transform: TransformParams = Field(default_factory=lambda: TransformParams.model_validate({}))
    max_document_bytes: int | None = Field(
        None, ge=1, description="Larger documents fail alone; at most the server's limit."
    )
    format: Literal["jsonl", "csv"] = Field(
        "jsonl", description="Of the output file: a row per document with its text and figures."
    )
    gzip: bool = False

    @model_validator(mode="after")
    def _steps_once_within_limits(self) -> "TextProcessParams":
        if len(set(self.steps)) != len(self.steps):
            raise ValueError("steps: each step at most once")
        limit = settings.BULKYARD_TEXT_MAX_DOCUMENT_BYTES
        if self.max_document_bytes is not None and self.max_document_bytes > limit:
            raise ValueError(f"max_document_bytes may be at most {limit} on this server")
        return self

    def document_limit(self) -> int:
        return self.max_document_bytes or settings.BULKYARD_TEXT_MAX_DOCUMENT_BYTES

    def file_columns(self) -> tuple[str, ...]:
        """The output file's columns, those of the chosen steps."""
        columns = ["item"]
        if self.id_field:
            columns.append("id")
        if "analyse" in self.steps:
            if self.analyse.language:
                columns += ["language", "language_confidence"]
            columns += ["characters", "words", "sentences", "reading_seconds"]
            if self.analyse.keywords:
                columns.append("keywords")
        if "redact" in self.steps:
            columns.append("redactions")
        if "transform" in self.steps:
            columns.append("replacements")
        columns.append("text")
        return tuple(columns)

    def wants_keywords(self) -> bool:
        return "analyse" in self.steps and self.analyse.keywords > 0

    def pipeline(self) -> Pipeline:
        return Pipeline(
            steps=self.steps,
            clean_options=self.clean.model_dump(),
            words_per_minute=self.analyse.words_per_minute,
            detect_language=self.analyse.language,
            keywords=self.analyse.keywords if self.wants_keywords() else 0,
            redactor=Redactor(
                types=self.redact.types,
                placeholder=self.redact.placeholder,
                phone_region=self.redact.phone_region,
            )
            if "redact" in self.steps
            else None,
            rules=self.transform.compiled() if "transform" in self.steps else [],
            case=self.transform.case,
            truncate=self.transform.truncate,
        )


@register
class TextProcessKind(JobKind[TextProcessParams]):
    """A pipeline of text operations per document, keywords by TF-IDF over the job."""

    name = "text.process"
    title = "Text processing"
    description = (
        "Per document, the steps you choose in the order you choose: clean (Unicode "
        "normalisation, HTML to text, whitespace), analyse (language, characters, words, "
        "sentences, reading time, keywords by TF-IDF over the whole job), redact (emails, "
        "phone numbers, IBANs, card numbers, IP addresses become typed placeholders), "
        "transform (find/replace rules as literals or re2 regexes, case, truncation). "
        "Output: one CSV / JSON Lines file, a row per document with its text and figures "
        "(GET /jobs/{id}/output/); the results list the documents that failed and why; the "
        "summary has totals, languages and the job's keywords."
    )
    params_model = TextProcessParams
    input_formats = ("csv", "jsonl", "zip")
    chunk_size = 1000
    queue_class = "cpu"
    # Each document's figures are in the output file, beside its text; a
    # result row per success as well cost a fifth of the job's overhead.
    stores_successes = False
    example_item = {"id": "doc-1", "text": "<p>Write to ada@example.com.</p>"}

    def columns_needed(self, params: TextProcessParams) -> tuple[str, ...]:
        return (params.text_field,)

    def process_chunk(
        self, items: Iterable[Item], ctx: ChunkContext[TextProcessParams]
    ) -> ChunkResult:
        if ctx.pass_number == 2:
            return self._rank_keywords(ctx)
        params = ctx.params
        pipeline = params.pipeline()
        limit = params.document_limit()
        result = ChunkResult()
        with part_writer(job_id=ctx.job_id, sequence=ctx.chunk_sequence) as (part, spool):
            output = _ChunkOutput(spool, params, keywords=bool(pipeline.keywords))
            for item in items:
                if ctx.should_stop():
                    return ChunkResult()
                done = self.attempt(
                    item, functools.partial(_processed, item, params, pipeline, limit)
                )
                if isinstance(done, ItemResultData):
                    result.items.append(done)
                    continue
                # A success is counted, not recorded: its figures are in its
                # row of the output file and in the chunk's summary.
                result.counted_successes += 1
                output.add(*done)
            output.close()
        result.kind_data = output.frequencies
        result.summary = output.figures.summary()
        # Named in the chunk's summary, committed with the chunk: only parts of
        # committed chunks are used.
        result.summary["pending_part" if pipeline.keywords else "rows_part"] = part
        return result

    def commit_chunk(self, result: ChunkResult, ctx: ChunkContext[TextProcessParams]) -> None:
        if ctx.pass_number == 1 and result.kind_data:
            term_counts_add(ctx.job_id, result.kind_data)

    def cleanup(self, job_id: str) -> None:
        term_counts_clear(job_id)

    def plan_second_pass(self, ctx: FinishContext[TextProcessParams]) -> WorkPlan | None:
        if not ctx.params.wants_keywords() or not ctx.counts["succeeded"]:
            return None
        documents = ctx.counts["succeeded"]
        pending = (
            Chunk.objects.filter(job_id=ctx.job_id, pass_number=1, summary__has_key="pending_part")
            .order_by("sequence")
            .values_list("summary", "succeeded_items")
        )
        groups = second_pass_groups(
            [
                (summary["pending_part"], count)
                for summary, count in pending
                if isinstance(summary, dict)
            ],
            documents,
        )
        return WorkPlan(
            total_items=0,
            chunks=[
                PlannedChunk(item_count=0, work={"parts": parts, "documents": documents})
                for parts in groups
            ],
        )

    def _rank_keywords(self, ctx: ChunkContext[TextProcessParams]) -> ChunkResult:
        """Second pass over consecutive first-pass chunks: each document's
        keywords against the job's document frequencies, written into its row
        of the output file."""
        assert ctx.work is not None
        params = ctx.params
        parts: list[str] = ctx.work["parts"]
        documents = int(ctx.work["documents"])
        # The group's parts share most of their words: each term's weight is
        # looked up once for the whole group.
        weights: dict[str, float] = {}
        scores: dict[str, float] = {}
        with part_writer(job_id=ctx.job_id, sequence=ctx.chunk_sequence) as (final, spool):
            for part in parts:
                with default_storage.open(part, "rb") as source:
                    # The part's documents' terms, held while their rows stream past.
                    batches = list(pending_batches(source))
                    unknown = set[str]().union(
                        *(terms for batch in batches for terms in batch.terms)
                    )
                    unknown.difference_update(weights)
                    weights.update(
                        keywords.weights(unknown, term_counts(ctx.job_id, unknown), documents)
                    )
                    for batch in batches:
                        if ctx.should_stop():
                            return ChunkResult()
                        spool.write(_ranked_rows(batch, source, weights, scores, params))
        result = ChunkResult()
        result.summary = {
            "rows_part": final,
            "ranked_parts": len(parts),
            "keyword_scores": dict(heapq.nlargest(200, scores.items(), key=itemgetter(1))),
        }
        return result

    def finish(self, ctx: FinishContext[TextProcessParams]) -> FinishResult:
        params = ctx.params
        totals: Counter[str] = Counter()
        languages: Counter[str] = Counter()
        redactions: Counter[str] = Counter()
        scores: Counter[str] = Counter()
        parts: list[str] = []
        pending: list[str] = []
        ranked = 0
        for partial in ctx.chunk_summaries:
            totals.update(partial.get("totals") or {})
            languages.update(partial.get("languages") or {})
            redactions.update(partial.get("redactions") or {})
            scores.update(partial.get("keyword_scores") or {})
            if partial.get("rows_part"):
                parts.append(partial["rows_part"])
            if partial.get("pending_part"):
                pending.append(partial["pending_part"])
            if "keyword_scores" in partial:
                ranked += int(partial.get("ranked_parts", 1))
        output_file = ""
        size = 0
        second_pass_ran = params.wants_keywords() and ctx.counts["succeeded"] > 0
        if not ctx.cancelled and second_pass_ran and len(pending) != ranked:
            raise SecondPassIncomplete(
                f"{len(pending) - ranked} of {len(pending)} chunks never finished ranking "
                "keywords (their documents are missing from the output); run the job again"
            )
        if not ctx.cancelled and parts:
            # Every document's final row is in a ranked part now. Deleting the
            # pending ones first frees their page cache for the merge to write
            # into (cheaper than memory the kernel must hand over afresh) and
            # the disk space: the job never holds its documents four times.
            for part in pending:
                default_storage.delete(part)
            extension = params.format + (".gz" if params.gzip else "")
            output_file, size = parts_merge(
                parts=parts,
                output_name=f"jobs/{ctx.owner_id}/outputs/documents-{ctx.job_id}.{extension}",
                header=csv_header(params.file_columns()) if params.format == "csv" else b"",
                compress=params.gzip,
            )
        summary: dict[str, Any] = {
            **document_totals(totals),
            "languages": dict(languages.most_common()),
            "format": params.format,
            "bytes": size,
        }
        if "redact" in params.steps:
            summary["redactions"] = dict(redactions)
        if "transform" in params.steps:
            summary["replacements"] = totals["replacements"]
        if params.wants_keywords():
            summary["keywords"] = [term for term, _ in scores.most_common(20)]
        return FinishResult(summary=summary, output_file=output_file)


def _ranked_rows(
    batch: PendingBatch,
    source: IO[bytes],
    weights: dict[str, float],
    scores: dict[str, float],
    params: TextProcessParams,
) -> bytes:
    """A batch's rows with their keywords; each keyword's score is added to
    ``scores``."""
    pieces: list[bytes] = []
    for terms, (head, tail) in zip(batch.terms, batch.rows(source), strict=True):
        ranked = keywords.top(terms, weights, params.analyse.keywords)
        for term, score in ranked:
            scores[term] = scores.get(term, 0.0) + score
        pieces += (head, keywords_cell([term for term, _ in ranked], params.format), tail)
    return b"".join(pieces)


class _ChunkOutput:
    """A first-pass chunk's processed documents on their way into its part:
    its rows for the output file, or, where keywords are asked for, its
    pending rows and terms for the second pass; its figures and document
    frequencies.

    Documents are handled in batches (``pending.BATCH_DOCUMENTS``): between
    two runs of the pipeline, whose models and tables fill the CPU's caches,
    this code ran cold, at about twice the cost per document."""

    def __init__(self, spool: IO[bytes], params: TextProcessParams, *, keywords: bool) -> None:
        self.figures = _ChunkFigures()
        self.frequencies: Counter[str] = Counter()
        self._params = params
        self._columns = params.file_columns()
        self._pending = (
            PendingWriter(spool, columns=self._columns, format=params.format) if keywords else None
        )
        self._text = None if keywords else io.TextIOWrapper(spool, encoding="utf-8", newline="")
        self._batch: list[tuple[Item, DocumentResult]] = []
        self._characters = 0

    def add(self, item: Item, processed: DocumentResult) -> None:
        self._batch.append((item, processed))
        self._characters += len(processed.text)
        if len(self._batch) >= BATCH_DOCUMENTS or self._characters >= BATCH_CHARACTERS:
            self._flush()

    def close(self) -> None:
        self._flush()
        if self._text is not None:
            self._text.flush()
            self._text.detach()  # the part writer closes the file

    def _flush(self) -> None:
        params, columns = self._params, self._columns
        id_field = params.id_field
        rows: list[dict[str, Any]] = []
        for item, processed in self._batch:
            self.figures.add(processed.output)
            row: dict[str, Any] = {"item": item.number}
            if id_field and isinstance(item.data, dict) and id_field in item.data:
                row["id"] = item.data[id_field]
            row.update(processed.output)
            row["text"] = processed.text
            rows.append(row)
        if self._pending is not None:
            terms = [processed.terms for _, processed in self._batch]
            for counts in terms:
                self.frequencies.update(counts.keys())
            self._pending.write_batch(rows, terms)
        elif self._text is not None:
            write_rows(
                [file_row(row, columns, params.format) for row in rows],
                self._text,
                fields=columns,
                format=params.format,
            )
        self._batch, self._characters = [], 0


class _ChunkFigures:
    """A first-pass chunk's document figures, added up as its documents
    succeed: the partial summary ``finish`` adds up."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()
        self.redactions: Counter[str] = Counter()

    def add(self, output: dict[str, Any]) -> None:
        totals = self.totals
        totals["documents"] += 1
        for key in ("characters", "words", "sentences"):
            totals[key] += int(output.get(key) or 0)
        if output.get("language"):
            self.languages[output["language"]] += 1
        self.redactions.update(output.get("redactions") or {})
        totals["replacements"] += int(output.get("replacements") or 0)

    def summary(self) -> dict[str, Any]:
        return {
            "totals": dict(self.totals),
            "languages": dict(self.languages),
            "redactions": dict(self.redactions),
        }


# A second-pass chunk ranks the documents of consecutive first-pass chunks, up
# to this many: a chunk's claim, commit and hand-over cost as much as ranking
# hundreds of documents, so small chunks spend much of the second pass on their
# own upkeep (decision 0007 has the figures).
SECOND_PASS_DOCUMENTS = 10_000
# Fewer documents than that per chunk where a job is small, so that its second
# pass still spreads over this many pool processes.
SECOND_PASS_SPREAD = 8


def second_pass_groups(parts: Sequence[tuple[str, int]], documents: int) -> list[list[str]]:
    """The first pass's pending parts (name, documents), in order, cut into
    runs of consecutive parts for the second-pass chunks."""
    target = max(1, min(SECOND_PASS_DOCUMENTS, documents // SECOND_PASS_SPREAD))
    groups: list[list[str]] = []
    size = 0
    for part, count in parts:
        if not groups or size + count > target:
            groups.append([])
            size = 0
        groups[-1].append(part)
        size += count
    return groups


class SecondPassIncomplete(Exception):
    """A second-pass chunk failed for good: a file without its documents would
    look complete."""


def file_row(row: dict[str, Any], columns: Sequence[str], format: str) -> tuple[Any, ...]:
    """A document's row of the output file; lists and counts flattened for CSV."""
    if format != "csv":
        return tuple(row.get(column) for column in columns)
    return tuple(csv_cells(row, columns))


ARCHIVE_EXTENSIONS = (".txt", ".text", ".md", ".markdown", ".html", ".htm")


def _from_archive(item: Item, params: TextProcessParams) -> Item:
    """A file from a ZIP as a document: its name as the id, its UTF-8 text."""
    data = item.data
    if not (isinstance(data, dict) and isinstance(data.get("content"), bytes)):
        return item
    name = str(data.get("name", ""))
    if not name.lower().endswith(ARCHIVE_EXTENSIONS):
        raise ItemError(
            "unsupported_file", f"{name!r}: only {', '.join(ARCHIVE_EXTENSIONS)} files are read"
        )
    try:
        text = data["content"].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ItemError("invalid_encoding", f"{name!r} is not UTF-8 text: {exc}") from None
    return Item(item.number, {params.id_field or "id": name, params.text_field: text})


def _processed(
    item: Item, params: TextProcessParams, pipeline: Pipeline, limit: int
) -> tuple[Item, DocumentResult]:
    """The document an item holds (read from its file if it came in a ZIP), run
    through the pipeline."""
    item = _from_archive(item, params)
    return item, pipeline.run(_document(item, params, limit))


def _document(item: Item, params: TextProcessParams, limit: int) -> str:
    text = text_of(item, params.text_field)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ItemError(
            "document_too_large", f"the document is {size:,} bytes; the limit is {limit:,}"
        )
    return text
