"""Django's built-in filters within the bounds of ``template_limits``.

Each filter call is a step, plus one per 16 characters (or list item) it reads
or writes: filters work character by character in Python, so 16 characters
cost them about what any other step costs. No filter reads a value
longer than a part may hold, nor gives a longer result. Where the arguments
decide the size of the result (padding widths, ``stringformat`` and
``floatformat`` numbers, ``join``, ``add``), it is checked before the result is
built, and literal arguments are checked when the template is compiled.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bulkyard.mail.template_limits import current_budget


def _size(value: Any) -> int:
    """Characters (and items) a filter reads or writes; 0 for numbers and the like."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(len(item) if isinstance(item, str) else 1 for item in value)
    if isinstance(value, dict | set | frozenset):
        return len(value)
    return 0


def _integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None  # the filter itself answers for it


def _digits(text: str) -> int:
    """The largest number written in ``text`` (0 if none), without reading a
    number too long for ``int`` in full."""
    runs = re.findall(r"\d+", text)
    return max((int(run) if len(run) < 19 else 10**19 for run in runs), default=0)


def _padding(name: str, args: Sequence[Any], max_bytes: int) -> str | None:
    width = _integer(args[0]) if args else None
    if width is not None and width > max_bytes:
        return f"{name}:{width} would pad to {width} characters"
    return None


def _stringformat(name: str, args: Sequence[Any], max_bytes: int) -> str | None:
    spec = str(args[0]) if args else ""
    if "%" in spec:
        # "(a)s%(a)s..." repeats a value as often as the argument asks.
        return f"stringformat takes one conversion specifier ('03d', '.2f'), not {spec!r}"
    wide = _digits(re.sub(r"^\([^)]*\)", "", spec))  # the digits of a mapping key are a name
    if wide > max_bytes:
        return f"stringformat:{spec} would write {wide} characters"
    return None


def _floatformat(name: str, args: Sequence[Any], max_bytes: int) -> str | None:
    places = _digits(str(args[0]).rstrip("gu")) if args else 0
    if places > max_bytes:
        return f"floatformat:{args[0]} would write {places} decimal places"
    return None


def _join(value: Any, args: Sequence[Any], max_bytes: int) -> str | None:
    if not isinstance(value, str | list | tuple) or len(value) < 2 or not args:
        return None
    joined = _size(value) + (len(value) - 1) * len(str(args[0]))
    if joined > max_bytes:
        return f"join would give {joined} characters"
    return None


def _add(value: Any, args: Sequence[Any], max_bytes: int) -> str | None:
    total = _size(value) + (_size(args[0]) if args else 0)
    if total > max_bytes:
        return f"add would give {total} characters"
    return None


# Checks of the arguments alone (also run when compiled, on literal arguments)
# and of the value with its arguments; each says what the filter would build
# past the bound, or None.
ArgumentCheck = Callable[[str, Sequence[Any], int], str | None]
OperandCheck = Callable[[Any, Sequence[Any], int], str | None]
_ARGUMENT_CHECKS: dict[str, ArgumentCheck] = {
    "center": _padding,
    "ljust": _padding,
    "rjust": _padding,
    "stringformat": _stringformat,
    "floatformat": _floatformat,
}
_OPERAND_CHECKS: dict[str, OperandCheck] = {"join": _join, "add": _add}


@dataclass(frozen=True, slots=True)
class _Cost:
    # A step per 2**shift characters read or written.
    read_shift: int = 4
    write_shift: int = 4
    max_read: int | None = None  # characters, below the size bound


# Django's HTML truncators parse in time that grows faster than their input
# (decision 0005), and as far as they write: they read at most 64 KiB, and
# what they write costs eight times as much.
_HTML_TRUNCATOR = _Cost(write_shift=1, max_read=64 * 1024)
_COSTS = {"truncatechars_html": _HTML_TRUNCATOR, "truncatewords_html": _HTML_TRUNCATOR}


class BoundedFilter:
    """A Django filter that charges its steps and holds what it reads and
    writes to the size bound; Django sees the filter it wraps (its flags and
    arguments)."""

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        functools.update_wrapper(self, function)
        self.name = name
        self.function = function
        self.check_arguments = _ARGUMENT_CHECKS.get(name)
        self.check_operands = _OPERAND_CHECKS.get(name)
        self.cost = _COSTS.get(name, _Cost())

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        limits = budget.limits
        reads = _size(value)
        cost = self.cost
        budget.charge(1 + (reads >> cost.read_shift) + sum(_size(arg) >> 4 for arg in args))
        most = limits.max_bytes if cost.max_read is None else min(limits.max_bytes, cost.max_read)
        problem = None
        if reads > most:
            problem = f"{self.name} would read {reads} characters (at most {most})"
        if problem is None and self.check_arguments is not None:
            problem = self.check_arguments(self.name, args, limits.max_bytes)
        if problem is None and self.check_operands is not None:
            problem = self.check_operands(value, args, limits.max_bytes)
        if problem is not None:
            budget.fail(limits.too_large(problem))
        result = self.function(value, *args, **kwargs)
        size = _size(result)
        budget.charge(size >> cost.write_shift)
        if size > limits.max_bytes:
            budget.fail(limits.too_large(f"{self.name} gives {size} characters"))
        return result
