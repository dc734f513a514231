"""Reading JSON Lines: one JSON value per line, refused per item where a
database could not store it."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from typing import IO, Any

from bulkyard.jobs.inputs.lines import LineFeeder, OversizedLine, nul_error, too_large
from bulkyard.jobs.kinds import Item, ItemError

# Items nested deeper than this fail alone (nested_too_deeply). Deeper values
# break where an item goes next: json.dumps recurses once per level (about a
# thousand at most, fewer deep in a worker's stack) when the item is stored
# or sent on, and PostgreSQL's jsonb has a stack limit of its own.
MAX_ITEM_DEPTH = 100


class _Refused(ValueError):
    """A value the parser reads but the reader refuses; says why, for the user."""


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
        data = _DECODER.decode(line)
    except json.JSONDecodeError as exc:
        return _invalid(number, f"{exc.msg} (column {exc.colno})")
    except _Refused as exc:
        return _invalid(number, str(exc))
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # Python's int digit limit
            return _invalid(number, f"a number has more than {sys.get_int_max_str_digits()} digits")
        return _invalid(number, str(exc))
    except RecursionError:
        return Item(number, None, _too_deep(number))
    value = data["item"] if envelope else data
    # Cheap tests on the line spare most values the walk: a value has no more
    # levels than opening brackets, and text a database refuses needs a \\u
    # escape (the parser refuses raw control characters; undecodable bytes
    # were refused above).
    deep = line.count("[") + line.count("{") > MAX_ITEM_DEPTH
    escaped = "\\u" in line
    problem = _value_problem(value, escaped) if deep or escaped else None
    if problem == "nested_too_deeply":
        return Item(number, None, _too_deep(number))
    if problem == "invalid_characters":
        return Item(number, None, nul_error(number))
    if envelope:
        return Item(int(data["n"]), value)
    return Item(number, data)


def _invalid(number: int, reason: str) -> Item:
    return Item(number, None, ItemError("invalid_json", f"line {number}: {reason}"))


def _too_deep(number: int) -> ItemError:
    return ItemError(
        "nested_too_deeply", f"line {number}: nested more than {MAX_ITEM_DEPTH} levels deep"
    )


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        # Python reads it as infinity, which JSON (and jsonb) cannot hold.
        shown = text if len(text) <= 30 else f"{text[:27]}..."
        raise _Refused(f"the number {shown} is beyond the range of a float (1.8e308)")
    return value


# Built once: json.loads with hooks builds a decoder per call, which cost more
# than checking each float does.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def nested_too_deeply(value: Any) -> bool:
    """Whether ``value`` has more than ``MAX_ITEM_DEPTH`` levels, by the rule
    the reader applies to each line. Iterative, so that any depth can be asked
    about: the API refuses inline items by it before anything recurses."""
    return _value_problem(value, check_text=False) == "nested_too_deeply"


def _value_problem(value: Any, check_text: bool) -> str | None:
    """'nested_too_deeply', 'invalid_characters' (with ``check_text``: a string
    holding NUL or a lone surrogate, which databases refuse) or None.
    Iterative: a value nested hundreds deep must not overflow the stack."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, str):
            if check_text and _unstorable(current):
                return "invalid_characters"
        elif isinstance(current, dict | list):
            if depth == MAX_ITEM_DEPTH:
                return "nested_too_deeply"
            if isinstance(current, dict):
                if check_text:
                    pending.extend((key, depth) for key in current)
                current = current.values()
            pending.extend((child, depth + 1) for child in current)
    return None


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
