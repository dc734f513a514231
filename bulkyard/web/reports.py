"""What the job page shows of a job besides its live counters: its timings
and, once it has finished, its report (summary, failures by code, the first
failed items, its retries). Built here so the page and the fragment that
job_page.js loads when the job finishes render the same context."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.defaultfilters import truncatechars

from bulkyard.jobs import registry, selectors
from bulkyard.jobs.models import ItemOutcome, Job

FIRST_FAILED_ITEMS = 20
# Deeper parts of a kind's summary are shown as JSON text, not nested lists.
SUMMARY_DEPTH = 3
# An item's key (its id, email, URL...) is shown cut to this many characters.
KEY_CHARS = 60
# What the live panel shows for a value not known (yet): an en dash.
NOTHING = "\u2013"
# Fields that name an item, in the order one is picked to show as its key.
KEY_FIELDS = ("id", "key", "email", "url", "name", "path", "filename", "file")


def web_retry_key(*, job: Job) -> str:
    """The idempotency key of the job page's retry: one per job, so a double
    click (or a second tab) gets the retry the first click made."""
    return f"web-retry:{job.pk}"


@dataclass(frozen=True, slots=True)
class SummaryEntry:
    label: str
    value: str = ""
    children: tuple["SummaryEntry", ...] = ()


@dataclass(frozen=True, slots=True)
class FailureCount:
    code: str
    count: int
    # False for codes "retry failed items" leaves out.
    retried: bool


@dataclass(frozen=True, slots=True)
class FailedItem:
    number: int
    key: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Timings:
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: str
    items_per_second: str


def job_report(*, job: Job) -> dict[str, Any]:
    """The template context of a job's timings and report."""
    context: dict[str, Any] = {"timings": job_timings(job=job), "finished": job.is_finished}
    if not job.is_finished:
        return context
    counts = selectors.job_failure_counts(job=job)
    try:
        not_retried = selectors.not_retried_codes(kind=job.kind)
    except registry.UnknownKind:
        not_retried = frozenset(counts)
    failures = [
        FailureCount(code=code or "(no code)", count=count, retried=code not in not_retried)
        for code, count in counts.items()
    ]
    first_failed = selectors.item_results(job=job, outcome=ItemOutcome.FAILED).only(
        "item_number", "code", "message", "input"
    )[:FIRST_FAILED_ITEMS]
    retries = list(selectors.job_retries(job=job))
    return {
        **context,
        "summary_entries": summary_entries(job.summary or {}),
        "failures": failures,
        # Failures with no row: whole chunks of a kind's own work that failed.
        "unlisted_failures": max(job.failed_items - sum(counts.values()), 0),
        "first_failed": [
            FailedItem(
                number=result.item_number,
                key=item_key(result.input),
                code=result.code,
                message=result.message,
            )
            for result in first_failed
        ],
        # Once the button has made its retry, another click would only lead
        # there (same key): the list of retries links it instead.
        "can_retry": selectors.job_can_retry(job=job)
        and not any(retry.idempotency_key == web_retry_key(job=job) for retry in retries),
        "retries": retries,
    }


def job_timings(*, job: Job) -> Timings:
    progress = selectors.job_progress(job)
    rate = progress.items_per_second
    return Timings(
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        duration=duration_text(progress.duration_seconds),
        items_per_second=NOTHING if rate is None else f"{rate:,.1f}",
    )


def duration_text(seconds: float | None) -> str:
    """A duration as precise as a person reads it: "2 h 5 min", "3 min 7 s",
    "4.2 s"."""
    if seconds is None:
        return NOTHING
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def item_key(data: Any) -> str:
    """What names a failed item to its owner: a field that identifies it
    (``id``, ``email``, ``url``...), else its first field; the value itself
    for a scalar item."""
    if data is None:
        return ""
    if isinstance(data, Mapping):
        if not data:
            return ""
        name = next((field for field in KEY_FIELDS if field in data), next(iter(data)))
        return truncatechars(f"{name}: {_scalar(data[name])}", KEY_CHARS)
    return truncatechars(_scalar(data), KEY_CHARS)


def summary_entries(summary: Mapping[str, Any], *, depth: int = 1) -> list[SummaryEntry]:
    """A kind's summary as labelled entries: nested objects as nested entries
    (down to ``SUMMARY_DEPTH``), lists of plain values joined."""
    entries = []
    for name, value in summary.items():
        label = str(name).replace("_", " ")
        label = label[:1].upper() + label[1:]
        if isinstance(value, Mapping) and value and depth < SUMMARY_DEPTH:
            entries.append(
                SummaryEntry(label=label, children=tuple(summary_entries(value, depth=depth + 1)))
            )
        else:
            entries.append(SummaryEntry(label=label, value=_scalar(value)))
    return entries


def _scalar(value: Any) -> str:
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_scalar(v) for v in value) or NOTHING
    if isinstance(value, (dict, list)):
        return truncatechars(json.dumps(value, ensure_ascii=False), 300)
    return str(value)
