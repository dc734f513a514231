"""Text job kinds."""

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bulkyard.jobs.kinds import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemError,
    JobKind,
)
from bulkyard.jobs.registry import register

WORD = re.compile(r"\w+(?:['’-]\w+)*")  # noqa: RUF001 (typographic apostrophe)
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
        if not isinstance(item.data, dict):
            raise ItemError("invalid_item", "the item must be an object with a text field")
        if params.text_field not in item.data:
            raise ItemError("missing_field", f"the item has no {params.text_field!r} field")
        text = item.data[params.text_field]
        if not isinstance(text, str):
            raise ItemError(
                "invalid_type", f"{params.text_field!r} must be a string, not {type(text).__name__}"
            )
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
        documents = totals["documents"]
        summary: dict[str, Any] = {
            "documents": documents,
            "characters": totals["characters"],
            "words": totals["words"],
            "sentences": totals["sentences"],
            "average_words": round(totals["words"] / documents, 1) if documents else 0,
            "reading_minutes": round(totals["words"] / ctx.params.words_per_minute, 1),
        }
        return FinishResult(summary=summary)
