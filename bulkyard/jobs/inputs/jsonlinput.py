"""Reading JSON Lines: one JSON value per line, refused per item where a
database could not store it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from bulkyard.jobs.inputs.lines import LineFeeder, OversizedLine, nul_error, too_large
from bulkyard.jobs.kinds import Item, ItemError


def jsonl_items(
    raw: IO[bytes], *, start: int, end: int | None, next_line: int, envelope: bool
) -> Iterator[tuple[Item, tuple[int, int]]]:
    raw.seek(start)
    feeder = LineFeeder(raw, start=start, end=end, next_line=next_line, limited=not envelope)
    while True:
        feeder.record_bytes = 0
        try:
            line = next(feeder)
        except StopIteration:
            return
        except OversizedLine as exc:
            yield Item(exc.line_number, None, too_large(exc.line_number)), feeder.position
            continue
        if not line.strip():
            continue
        yield _jsonl_item(feeder.line_number, line, envelope), feeder.position


def _jsonl_item(number: int, line: str, envelope: bool) -> Item:
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return Item(
            number, None, ItemError("invalid_encoding", f"line {number} is not valid UTF-8")
        )
    try:
        data = json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return Item(
            number,
            None,
            ItemError("invalid_json", f"line {number}: {exc.msg} (column {exc.colno})"),
        )
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        return Item(number, None, ItemError("invalid_json", f"line {number}: {message}"))
    if "\\u" in line and _has_unstorable_text(data):
        return Item(number, None, nul_error(number))
    if envelope:
        return Item(int(data["n"]), data["item"])
    return Item(number, data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _has_unstorable_text(value: Any) -> bool:
    """True if a string holds NUL or a lone surrogate, which databases refuse."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(v) for v in value)
    return False
