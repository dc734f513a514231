"""What the user sees: the progress of a followed job (a rich bar on a
terminal, a line now and then in a log), its summary, and the tables of
``status``, ``jobs``, ``kinds`` and ``config``. Everything here goes to the
console it is given; the commands choose stdout or stderr."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import click
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from bulkyard.cli.follow import JobState

STATUS_STYLES = {
    "queued": "dim",
    "running": "cyan",
    "paused": "blue",
    "cancelling": "magenta",
    "succeeded": "bold green",
    "completed_with_errors": "bold yellow",
    "failed": "bold red",
    "cancelled": "bold magenta",
}
# A line in a log (no terminal) at most this often while counts change.
PLAIN_LINE_SECONDS = 5.0
# Summary entries shown, and values per entry: enough to read, not a dump.
SUMMARY_ENTRIES = 12
SUMMARY_VALUES = 8


def output() -> Console:
    """stdout: the command's result (a table here; ids and JSON go through
    click.echo, untouched)."""
    return _unwrapped_off_a_terminal(Console())


def errors() -> Console:
    """stderr: progress, notices, summaries, errors. A message is one line
    however long: the terminal wraps it, rich does not break it."""
    return _unwrapped_off_a_terminal(Console(stderr=True, highlight=False, soft_wrap=True))


# Wide enough for any line a command prints.
_NO_WIDTH = 10_000


def _unwrapped_off_a_terminal(console: Console) -> Console:
    # A pipe, a file or a CI log has no width: rich would assume 80 columns
    # and break table cells there (a command in the "next" hint, cut in two).
    if not is_terminal(console):
        console.width = _NO_WIDTH
    return console


def is_terminal(console: Console) -> bool:
    return console.is_terminal and not console.is_dumb_terminal


class Display(Protocol):
    def show(self, state: JobState) -> None: ...
    def notice(self, text: str) -> None: ...
    def close(self) -> None: ...


class LiveBar:
    """A bar with items done of the total, items/s and ETA, redrawn in place."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.fields[status]}"),
            BarColumn(),
            TextColumn("{task.fields[percent]}", justify="right"),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[speed]}"),
            console=console,
            refresh_per_second=4,
        )
        self._task = self._progress.add_task(
            "", total=None, status="", percent="", counts="", speed=""
        )
        self._progress.start()

    def show(self, state: JobState) -> None:
        speed = _join(_rate(state.items_per_second), _eta(state))
        self._progress.update(
            self._task,
            total=state.total,
            completed=state.processed,
            status=_status_markup(state.status),
            percent=f"{state.percent:.0f} %" if state.percent is not None else "",
            counts=_counts(state),
            speed=speed,
        )

    def notice(self, text: str) -> None:
        self._progress.console.print(Text(text, style="yellow"))

    def close(self) -> None:
        self._progress.stop()


class PlainLines:
    """For logs: a line when the status changes, and every
    ``PLAIN_LINE_SECONDS`` while the counts move."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._last: JobState | None = None
        self._last_at = 0.0

    def show(self, state: JobState) -> None:
        now, last = time.monotonic(), self._last
        if state.finished:
            return  # the summary says it, with the final counts
        changed = last is None or state.status != last.status
        moved = last is not None and state.processed != last.processed
        if not changed and not (moved and now - self._last_at >= PLAIN_LINE_SECONDS):
            return
        percent = f" ({state.percent:.1f} %)" if state.percent is not None else ""
        line = _join(f"{state.status}: {_counts(state)}{percent}", _rate(state.items_per_second))
        self._console.print(Text(_join(line, _eta(state))), highlight=False)
        self._last, self._last_at = state, now

    def notice(self, text: str) -> None:
        self._console.print(Text(text), highlight=False)

    def close(self) -> None:
        return None


class Silent:
    def show(self, state: JobState) -> None:
        return None

    def notice(self, text: str) -> None:
        return None

    def close(self) -> None:
        return None


def display_for(console: Console, *, quiet: bool) -> Display:
    if quiet:
        return Silent()
    return LiveBar(console) if is_terminal(console) else PlainLines(console)


@contextmanager
def upload_meter(console: Console, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A transient bar of the bytes sent, on a terminal; nothing in a log."""
    if not is_terminal(console):
        yield None
        return
    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)
        yield lambda sent: progress.advance(task, sent)


# -- a finished job ------------------------------------------------------------


def summary(job: dict[str, Any]) -> RenderableType:
    """The end of a followed job: its outcome, counts, time, failures, what next."""
    state = JobState.from_job(job)
    title = Text.assemble(
        "job ", (state.job_id, "bold"), f" ({job.get('kind')}) ", _status_text(state.status)
    )
    grid = _grid()
    grid.add_row("items", _items_line(state))
    if job.get("unprocessed_items"):
        grid.add_row("unprocessed", f"{job['unprocessed_items']:,} never ran")
    if state.duration_seconds is not None:
        grid.add_row("took", _join(_duration(state.duration_seconds), _rate(_average(state))))
    _add_outcome_rows(grid, job)
    links = job.get("links") or {}
    hints = []
    if state.failed:
        hints.append(f"bulkyard results {state.job_id} --failed -o failed.csv")
        hints.append(f"bulkyard retry {state.job_id}")
    if links.get("unprocessed"):
        hints.append(f"bulkyard results {state.job_id} --unprocessed -o FILE")
    if links.get("output"):
        hints.append(f"bulkyard output {state.job_id} -o FILE")
    for number, hint in enumerate(hints):
        grid.add_row("next" if number == 0 else "", Text(hint, style="dim"))
    return Group(title, grid)


def job_table(job: dict[str, Any]) -> RenderableType:
    """``status``: every field a person reads, in the order they read them."""
    state = JobState.from_job(job)
    grid = _grid()
    grid.add_row("job", Text(state.job_id, style="bold"))
    grid.add_row("kind", str(job.get("kind")))
    grid.add_row("status", _status_text(state.status))
    grid.add_row("priority", str(job.get("priority") or "normal"))
    grid.add_row("items", _items_line(state))
    if job.get("unprocessed_items"):
        grid.add_row("unprocessed", f"{job['unprocessed_items']:,} never ran")
    if job.get("paused_at"):
        paused = job.get("paused_seconds")
        since = f" ({_duration(paused)})" if paused is not None else ""
        grid.add_row("paused", f"since {job['paused_at']}{since}")
    if not state.finished:
        progress = f"{state.percent:.1f} %" if state.percent is not None else "not planned yet"
        grid.add_row("progress", _join(progress, _rate(state.items_per_second), _eta(state)))
    chunks = job.get("chunks") or {}
    if chunks.get("total") is not None:
        grid.add_row("chunks", f"{chunks.get('finished', 0):,} of {chunks['total']:,} finished")
    source = job.get("input") or {}
    if source.get("name"):
        size = f", {_bytes(source['size'])}" if source.get("size") is not None else ""
        grid.add_row("input", f"{source['name']} ({source.get('format')}{size})")
    for field in ("created_at", "started_at", "finished_at"):
        if job.get(field):
            grid.add_row(field.removesuffix("_at"), str(job[field]))
    if state.duration_seconds is not None:
        grid.add_row("duration", _duration(state.duration_seconds))
    for field in ("retry_of", "idempotency_key"):
        if job.get(field):
            grid.add_row(field.replace("_", " "), str(job[field]))
    _add_outcome_rows(grid, job)
    links = job.get("links") or {}
    if links.get("unprocessed"):
        grid.add_row("never ran", f"bulkyard results {state.job_id} --unprocessed -o FILE")
    if links.get("output"):
        grid.add_row("output", f"bulkyard output {state.job_id} -o FILE")
    return grid


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("id", "kind", "status", "items", "failed", "created"):
        table.add_column(column, justify="right" if column in ("items", "failed") else "left")
    for job in jobs:
        state = JobState.from_job(job)
        total = f"{state.total:,}" if state.total is not None else "?"
        table.add_row(
            state.job_id,
            str(job.get("kind")),
            _status_text(state.status),
            f"{state.processed:,}/{total}",
            f"{state.failed:,}",
            str(job.get("created_at") or ""),
        )
    return table


def kinds_table(kinds: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("name", "title", "inputs", "chunk size", "queue"):
        table.add_column(column, justify="right" if column == "chunk size" else "left")
    for kind in kinds:
        inputs = ", ".join(kind.get("input_formats") or [])
        if not kind.get("reads_input", True):
            inputs = "none (finds its own items)"
        table.add_row(
            str(kind.get("name")),
            str(kind.get("title") or ""),
            inputs,
            f"{kind.get('chunk_size', '')}",
            str(kind.get("queue") or ""),
        )
    return table


def settings_table(rows: list[tuple[str, str, str]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


# -- pieces ----------------------------------------------------------------------


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    return grid


def _add_outcome_rows(grid: Table, job: dict[str, Any]) -> None:
    """The job's error, its failures by code, and its kind's summary."""
    error = job.get("error")
    if error:
        grid.add_row("error", Text(f"{error.get('code')}: {error.get('message')}", style="red"))
    by_code = _failures_by_code(job)
    if by_code:
        codes = sorted(by_code.items(), key=lambda item: (-item[1], item[0]))
        grid.add_row("failures", ", ".join(f"{code} {count:,}" for code, count in codes))
    entries = [
        (key, value)
        for key, value in (job.get("summary") or {}).items()
        if key not in ("failed_by_code", "failures") and _shown(value)
    ]
    for number, (key, value) in enumerate(entries[:SUMMARY_ENTRIES]):
        grid.add_row("summary" if number == 0 else "", f"{key}: {_value(value)}")


def _failures_by_code(job: dict[str, Any]) -> dict[str, int]:
    """Failures per code, where the job's JSON has them: in the job itself, or
    in its kind's summary (``failed_by_code``, ``failures``)."""
    summary = job.get("summary") or {}
    for found in (
        job.get("failures_by_code"),
        summary.get("failed_by_code"),
        summary.get("failures"),
    ):
        if isinstance(found, dict) and all(isinstance(count, int) for count in found.values()):
            return {str(code): count for code, count in found.items() if count}
    return {}


def _shown(value: Any) -> bool:
    return value is not None and value != {} and value != []


def _value(value: Any) -> str:
    if isinstance(value, dict):
        shown = [f"{key}={_scalar(item)}" for key, item in list(value.items())[:SUMMARY_VALUES]]
        more = len(value) - SUMMARY_VALUES
        return ", ".join(shown) + (f", … {more} more" if more > 0 else "")
    if isinstance(value, list):
        return f"{len(value):,} entries"
    return _scalar(value)


def _scalar(value: Any) -> str:
    # Words, as the job page says them, not Python's True/False/None.
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if not isinstance(value, int | float):
        return str(value) if not isinstance(value, dict | list) else "…"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def _status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _status_markup(status: str) -> str:
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def _counts(state: JobState) -> str:
    total = f"/{state.total:,}" if state.total is not None else ""
    failed = f", {state.failed:,} failed" if state.failed else ""
    return f"{state.processed:,}{total} items{failed}"


def _items_line(state: JobState) -> str:
    total = f"{state.total:,}" if state.total is not None else "not counted yet"
    return f"{total}: {state.succeeded:,} succeeded, {state.failed:,} failed"


def _average(state: JobState) -> float | None:
    if not state.duration_seconds or not state.processed:
        return None
    return state.processed / state.duration_seconds


def _rate(items_per_second: float | None) -> str:
    if items_per_second is None:
        return ""
    return (
        f"{items_per_second:,.0f} items/s"
        if items_per_second >= 10
        else f"{items_per_second:.2g} items/s"
    )


def _eta(state: JobState) -> str:
    if state.finished or state.eta_seconds is None:
        return ""
    return f"ETA {_duration(state.eta_seconds)}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _join(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def print_json(value: Any) -> None:
    """JSON on stdout for scripts: indented, not highlighted, not wrapped."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
