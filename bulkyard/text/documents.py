"""What both text kinds read and report: an item's document and a job's
document totals."""

from collections import Counter
from typing import Any

from bulkyard.jobs.sdk import Item, ItemError


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
