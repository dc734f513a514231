"""Making item results storable, whatever an item held.

PostgreSQL refuses some values outright: ``NaN`` and infinities in ``jsonb``,
the NUL character and lone UTF-16 surrogates in text, JSON nested deeper than
its parser's stack. One such value in one item's result used to fail the
whole chunk's commit, three times, and then every item of it. Results are
checked here before they are written; a value the database would refuse is
replaced by a note saying why, so the item is still reported, with the reason,
and its neighbours are not touched.
"""

from __future__ import annotations

import json
from typing import Any

from bulkyard.jobs.kinds import CONTENT_OMITTED

# Longest message kept per item; longer ones are cut (an error message can
# quote an item's content).
MAX_MESSAGE_CHARS = 4000
MAX_CODE_CHARS = 64
# How much of a refused value a note keeps, to help find the item.
PREVIEW_CHARS = 200


def storable_text(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` without what PostgreSQL refuses in text (NUL, lone
    surrogates), cut to ``limit`` characters."""
    text = text[:limit]
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def storable_json(value: Any) -> tuple[Any, str]:
    """``(value, "")`` when ``jsonb`` takes the value as it is; else a note in
    its place (marked as content that cannot be sent again, see
    ``CONTENT_OMITTED``) and the reason."""
    if value is None or (isinstance(value, bool | int | str) and _plain(value)):
        return value, ""
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return _note(value, "it holds NaN or an infinite number"), "NaN or infinite number"
    except RecursionError:
        return _note(value, "it is nested too deeply"), "nested too deeply"
    except TypeError as exc:
        return _note(value, f"it is not JSON ({exc})"), "not JSON"
    if "\\u0000" in encoded:
        return _note(value, "it holds a NUL character"), "NUL character"
    try:
        encoded.encode("utf-8")
    except UnicodeEncodeError:
        return _note(value, "it holds a lone UTF-16 surrogate"), "lone surrogate"
    return value, ""


def _plain(value: bool | int | str) -> bool:
    if isinstance(value, str):
        return storable_text(value, limit=len(value)) == value
    return True


def _note(value: Any, why: str) -> dict[str, Any]:
    try:
        preview = repr(value)[:PREVIEW_CHARS]
    except RecursionError:
        preview = f"<{type(value).__name__} nested too deeply>"
    return {
        CONTENT_OMITTED: True,
        "not_stored": f"the value could not be stored: {why}",
        "preview": storable_text(preview, limit=PREVIEW_CHARS),
    }
