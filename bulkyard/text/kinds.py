"""The text job kinds: ``text.stats`` and ``text.process``."""

import functools
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from bulkyard.jobs.sdk import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    WorkPlan,
    csv_header,
    part_writer,
    parts_discard,
    parts_merge,
    register,
)
from bulkyard.text.documents import document_totals, text_of
from bulkyard.text.first_pass import ChunkOutput, processed
from bulkyard.text.params import TextProcessParams, TextStatsParams
from bulkyard.text.processing import WORD
from bulkyard.text.ranking import SecondPassIncomplete, rank_keywords, second_pass_plan
from bulkyard.text.services import term_counts_add, term_counts_clear

SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


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
    example_params = {"text_field": "text", "id_field": "id", "top_words": 3}

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
    example_params = {"text_field": "text", "id_field": "id", "steps": ["clean", "redact"]}

    def columns_needed(self, params: TextProcessParams) -> tuple[str, ...]:
        return (params.text_field,)

    def process_chunk(
        self, items: Iterable[Item], ctx: ChunkContext[TextProcessParams]
    ) -> ChunkResult:
        if ctx.pass_number == 2:
            return rank_keywords(ctx)
        params = ctx.params
        pipeline = params.pipeline()
        limit = params.document_limit()
        result = ChunkResult()
        with part_writer(job_id=ctx.job_id, sequence=ctx.chunk_sequence) as (part, spool):
            output = ChunkOutput(spool, params, keywords=bool(pipeline.keywords))
            for item in items:
                if ctx.should_stop():
                    return ChunkResult()
                done = self.attempt(
                    item, functools.partial(processed, item, params, pipeline, limit)
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
        return second_pass_plan(ctx)

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
            parts_discard(pending)
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
