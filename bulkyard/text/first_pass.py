"""``text.process``'s first pass: each document of a chunk run through the
pipeline and written to the chunk's part, as rows of the output file or, where
keywords are asked for, as pending rows and terms for the second pass."""

import io
from collections import Counter
from collections.abc import Sequence
from typing import IO, Any

from bulkyard.jobs.sdk import Item, ItemError, write_rows
from bulkyard.text.documents import text_of
from bulkyard.text.params import TextProcessParams
from bulkyard.text.pending import (
    BATCH_CHARACTERS,
    BATCH_DOCUMENTS,
    PendingWriter,
    csv_cells,
)
from bulkyard.text.processing import DocumentResult, Pipeline


class ChunkOutput:
    """A first-pass chunk's processed documents on their way into its part:
    its rows for the output file, or, where keywords are asked for, its
    pending rows and terms for the second pass; its figures and document
    frequencies.

    Documents are handled in batches (``pending.BATCH_DOCUMENTS``): between
    two runs of the pipeline, whose models and tables fill the CPU's caches,
    this code ran cold, at about twice the cost per document."""

    def __init__(self, spool: IO[bytes], params: TextProcessParams, *, keywords: bool) -> None:
        self.figures = ChunkFigures()
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


class ChunkFigures:
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


def processed(
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
