"""What a kind's dry-run preview shows: the first rows of an input as the real
run would judge them, before any job exists (``JobKind.preview``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PreviewError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One item of the input: the line (or member position) it starts on, its
    values as read, and what would fail it (nothing: it would go through)."""

    number: int
    values: Any
    errors: list[PreviewError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class Preview:
    rows: list[PreviewRow]
    # The fields the rows go into (an import target's), for showing them.
    columns: list[str] = field(default_factory=list)

    @property
    def invalid_rows(self) -> int:
        return sum(1 for row in self.rows if not row.valid)
