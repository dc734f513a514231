"""The commands that read or change a job and return: ``status``, ``results``,
``output``, ``cancel``, ``pause``, ``resume``, ``jobs``, ``kinds`` and
``config``. Each is thin: options in, one API call, the answer printed."""

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from bulkyard.cli import render
from bulkyard.cli.client import job_id_from
from bulkyard.cli.errors import UsageProblem
from bulkyard.cli.options import connection, connection_options

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the JSON the API answers."
)
JOB_ID = click.argument("job", metavar="ID")


@click.command()
@JOB_ID
@JSON_OPTION
@connection_options
@click.pass_context
def status(ctx: click.Context, job: str, as_json: bool) -> None:
    """Show a job: status, counts, progress, times, error and summary.

    ID is the job's id, or its URL.
    """
    with connection(ctx).client() as client:
        found = client.job_get(job_id_from(job))
    if as_json:
        render.print_json(found)
    else:
        render.output().print(render.job_table(found))


@click.command()
@JOB_ID
@click.option("--failed", "outcome", flag_value="failed", help="Only the items that failed.")
@click.option(
    "--succeeded", "outcome", flag_value="succeeded", help="Only the items that succeeded."
)
@click.option(
    "--unprocessed",
    "outcome",
    flag_value="unprocessed",
    help="Instead: the items a cancel left unrun, in the input's own format, ready to submit.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Of the results [default: csv]."
)
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (whole, or not at all) instead of stdout ('-').",
)
@connection_options
@click.pass_context
def results(
    ctx: click.Context, job: str, outcome: str | None, fmt: str | None, target: Path | None
) -> None:
    """Download a job's per-item results, streamed: one row per item, with its
    outcome, code, message, output and (for failed items) input."""
    if outcome == "unprocessed":
        if fmt is not None:
            raise UsageProblem("--unprocessed comes in the input's own format: drop --format")
        query = {"outcome": outcome}
    else:
        query = {"format": fmt or "csv"} | ({"outcome": outcome} if outcome else {})
    job_id = job_id_from(job)
    with connection(ctx).client() as client, client.download(job_id, "results", query) as got:
        _save(got.pieces, None if str(target) == "-" else target)


@click.command()
@JOB_ID
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file ('-' for stdout) [default: the server's file name, "
    "in the current folder, never overwritten].",
)
@connection_options
@click.pass_context
def output(ctx: click.Context, job: str, target: Path | None) -> None:
    """Download a job's output file (an export, processed documents or images)."""
    job_id = job_id_from(job)
    with connection(ctx).client() as client, client.download(job_id, "output") as got:
        if target is None:
            target = Path(got.name or f"{job_id}.out")
            if target.exists():
                raise UsageProblem(f"{target} exists: name another file with -o")
        _save(got.pieces, None if str(target) == "-" else target)


def _job_action(action: str, doc: str) -> click.Command:
    @click.command(name=action, help=doc)
    @JOB_ID
    @JSON_OPTION
    @connection_options
    @click.pass_context
    def command(ctx: click.Context, job: str, as_json: bool) -> None:
        with connection(ctx).client() as client:
            changed, _ = client.job_action(job_id_from(job), action)
        if as_json:
            render.print_json(changed)
        else:
            click.echo(changed["status"])

    return command


cancel = _job_action(
    "cancel",
    "Cancel a job: no new chunk starts, running ones stop between items and keep "
    "what they did. Prints the job's new status (cancelling, or cancelled).",
)
pause = _job_action(
    "pause", "Pause a job: no new chunk starts until it is resumed. Prints its new status."
)
resume = _job_action("resume", "Resume a paused job. Prints its new status.")


@click.command()
@click.option("--status", "status_filter", help="Only jobs with this status.")
@click.option("--kind", help="Only jobs of this kind.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@JSON_OPTION
@connection_options
@click.pass_context
def jobs(
    ctx: click.Context, status_filter: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """List your jobs, newest first."""
    with connection(ctx).client() as client:
        found = client.job_list(status=status_filter, kind=kind, limit=limit)
    if as_json:
        render.print_json(found)
    else:
        render.output().print(render.jobs_table(found))


@click.command()
@JSON_OPTION
@connection_options
@click.pass_context
def kinds(ctx: click.Context, as_json: bool) -> None:
    """List the job kinds: names, titles, the inputs they read."""
    with connection(ctx).client() as client:
        found = client.kinds()
    if as_json:
        render.print_json(found)
    else:
        render.output().print(render.kinds_table(found))


@click.command(name="config")
@JSON_OPTION
@connection_options
@click.pass_context
def show_config(ctx: click.Context, as_json: bool) -> None:
    """Show the server URL and token the other commands would use, and where
    each came from. Sends nothing; the token is shortened."""
    settings = connection(ctx).settings()
    token = settings.token
    shown = {
        "url": {"value": settings.url.value, "from": settings.url.label},
        "token": {"value": _masked(token.value), "from": token.label} if token else None,
        "config_file": {"path": str(settings.config_path), "found": settings.config_found},
    }
    if as_json:
        render.print_json(shown)
        return
    found = "" if settings.config_found else " (not found)"
    rows = [
        ("url", settings.url.value, settings.url.label),
        ("token", _masked(token.value) if token else "(none)", token.label if token else ""),
        ("config file", f"{settings.config_path}{found}", ""),
    ]
    render.output().print(render.settings_table(rows))


def _masked(token: str) -> str:
    return f"{token[:4]}…" if len(token) > 8 else "…"


def _save(body: Iterator[bytes], target: Path | None) -> None:
    """The body to stdout, or to ``target`` through a temporary file beside
    it: an interrupted download never leaves a file that looks whole."""
    if target is None:
        for piece in body:
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    folder = target.parent if str(target.parent) else Path()
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise UsageProblem(f"cannot write in {folder}: {exc.strerror}") from None
    size = 0
    try:
        with os.fdopen(handle, "wb") as file:
            for piece in body:
                file.write(piece)
                size += len(piece)
        # mkstemp makes it private; the download gets what any new file would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    render.errors().print(f"wrote {size:,} bytes to {target}")


COMMANDS: list[Any] = [status, results, output, cancel, pause, resume, jobs, kinds, show_config]
