"""Planning and reading a whole input in memory, for the reader tests."""

import io
from typing import Any

from bulkyard.jobs.inputs import Plan, plan_input, read_span
from bulkyard.jobs.kinds import Item


def planned(content: bytes, fmt: str = "csv", chunk_size: int = 2) -> Plan:
    return plan_input(io.BytesIO(content), fmt, chunk_size=chunk_size)


def read_all(content: bytes, fmt: str = "csv", chunk_size: int = 2) -> list[Item]:
    """Every item, planned then read span by span."""
    raw = io.BytesIO(content)
    plan = plan_input(raw, fmt, chunk_size=chunk_size)
    return [
        item for span in plan.spans for item in read_span(raw, fmt, header=plan.header, span=span)
    ]


def outcomes(items: list[Item]) -> list[tuple[int, Any]]:
    """(number, data) of each good item, (number, error code) of each bad one."""
    return [(item.number, item.error.code if item.error else item.data) for item in items]
