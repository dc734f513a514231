"""The commands that make a job or follow one to its end: ``submit``,
``retry`` and ``watch``. Following shows a progress bar on stderr (a line now and then when
stderr is not a terminal), then the job's summary, and exits with the job's
outcome: 0 succeeded, 1 completed with errors, 2 failed, 3 cancelled.

Standard output carries only the result, for scripts: the job's id, or with
``--json`` its JSON (the final one when following)."""

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from bulkyard.cli import render
from bulkyard.cli.client import ApiClient, job_id_from
from bulkyard.cli.errors import JOB_EXIT_CODES, ExitCode, UsageProblem
from bulkyard.cli.follow import follow_job
from bulkyard.cli.options import connection, connection_options

FOLLOW_OPTION = click.option(
    "-f", "--follow", is_flag=True, help="Show progress until the job ends; exit with its outcome."
)
QUIET_OPTION = click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress, no summary: only the result and the exit status.",
)
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the job's JSON instead of its id."
)
IDEMPOTENCY_OPTION = click.option(
    "--idempotency-key",
    help="Send it again with the same key and the server returns the first job, not a new one.",
)


@click.command()
@click.argument(
    "file",
    required=False,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option("-k", "--kind", required=True, help="The job's kind (see `bulkyard kinds`).")
@click.option(
    "-p",
    "--params",
    default="{}",
    help="The kind's parameters: a JSON object, or @FILE holding one.",
)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["csv", "jsonl", "zip"]),
    help="FILE's format [default: from its name; needed for '-', standard input].",
)
@click.option(
    "--chunk-size", type=click.IntRange(min=1), help="Items per chunk [default: the kind's]."
)
@click.option(
    "--priority",
    type=click.Choice(["high", "normal", "low"]),
    help="Order among your own jobs [default: normal; high needs a permission].",
)
@click.option(
    "-a",
    "--attach",
    "attachments",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file kept with the job for kinds that use one (email.send); repeat for more.",
)
@IDEMPOTENCY_OPTION
@FOLLOW_OPTION
@QUIET_OPTION
@JSON_OPTION
@connection_options
@click.pass_context
def submit(
    ctx: click.Context,
    file: Path | None,
    kind: str,
    params: str,
    input_format: str | None,
    chunk_size: int | None,
    priority: str | None,
    attachments: tuple[Path, ...],
    idempotency_key: str | None,
    follow: bool,
    quiet: bool,
    as_json: bool,
) -> int:
    """Submit FILE (CSV, JSON Lines, gzip of either, or ZIP; '-' for standard
    input) as a job of a kind; print its id.

    Kinds that find their own items (data.export) take no FILE. The file is
    streamed, never read whole into memory.
    """
    if file is not None and str(file) == "-" and input_format is None:
        raise UsageProblem("reading standard input ('-') needs --format csv|jsonl|zip")
    parsed = _params(params)
    err = render.errors()
    with connection(ctx).client() as client:
        sizes = [_size(path) for path in (file, *attachments) if path is not None]
        total = None if None in sizes else sum(size or 0 for size in sizes)
        meter = nullcontext(None) if quiet or not sizes else render.upload_meter(err, total)
        with meter as sent:
            job, replayed = client.job_submit(
                kind=kind,
                file=file,
                input_format=input_format,
                params=parsed,
                chunk_size=chunk_size,
                priority=priority,
                idempotency_key=idempotency_key,
                attachments=list(attachments),
                on_upload=sent,
            )
        return _report(client, job, replayed=replayed, follow=follow, quiet=quiet, as_json=as_json)


@click.command()
@click.argument("job", metavar="ID")
@QUIET_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the final job's JSON.")
@connection_options
@click.pass_context
def watch(ctx: click.Context, job: str, quiet: bool, as_json: bool) -> int:
    """Follow a job to its end, live; exit with its outcome (0 succeeded,
    1 completed with errors, 2 failed, 3 cancelled)."""
    with connection(ctx).client() as client:
        found = client.job_get(job_id_from(job))
        return _follow(client, found, quiet=quiet, as_json=as_json)


@click.command()
@click.argument("job", metavar="ID")
@IDEMPOTENCY_OPTION
@FOLLOW_OPTION
@QUIET_OPTION
@JSON_OPTION
@connection_options
@click.pass_context
def retry(
    ctx: click.Context,
    job: str,
    idempotency_key: str | None,
    follow: bool,
    quiet: bool,
    as_json: bool,
) -> int:
    """Make a new job of the failed items of a finished job (same kind and
    params, the items keep their numbers); print its id."""
    with connection(ctx).client() as client:
        new, replayed = client.job_action(
            job_id_from(job), "retry", idempotency_key=idempotency_key
        )
        return _report(client, new, replayed=replayed, follow=follow, quiet=quiet, as_json=as_json)


def _report(
    client: ApiClient,
    job: dict[str, Any],
    *,
    replayed: bool,
    follow: bool,
    quiet: bool,
    as_json: bool,
) -> int:
    err = render.errors()
    if not quiet:
        made = "returned the job made earlier with this Idempotency-Key" if replayed else "accepted"
        err.print(f"{job['kind']}: job {job['id']} {made} ({job['status']})")
        # Accepted all the same; the submitter may want to act (or cancel).
        for warning in job.get("warnings") or []:
            err.print(
                f"warning: {warning['message']} ({warning['code']})", style="yellow", markup=False
            )
    if follow:
        if not as_json:
            click.echo(job["id"])
        return _follow(client, job, quiet=quiet, as_json=as_json)
    if as_json:
        render.print_json(job)
    else:
        click.echo(job["id"])
    if not quiet:
        err.print(f"follow it: bulkyard watch {job['id']}", style="dim")
    return ExitCode.OK


def _follow(client: ApiClient, job: dict[str, Any], *, quiet: bool, as_json: bool) -> int:
    err = render.errors()
    display = render.display_for(err, quiet=quiet)
    try:
        final = follow_job(client, job, show=display.show, notice=display.notice)
    except KeyboardInterrupt:
        display.close()
        err.print(
            f"stopped watching; the job goes on: bulkyard watch {job['id']} "
            f"(or bulkyard cancel {job['id']})"
        )
        return ExitCode.INTERRUPTED
    finally:
        display.close()
    if as_json:
        render.print_json(final)
    if not quiet:
        err.print(render.summary(final))
    return JOB_EXIT_CODES[final["status"]]


def _params(given: str) -> dict[str, Any]:
    text, where = given, "--params"
    if given.startswith("@"):
        where = given[1:]
        try:
            text = Path(where).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"cannot read {where}: {exc.strerror}") from None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise UsageProblem(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise UsageProblem(f"{where} must be a JSON object, not {type(parsed).__name__}")
    return parsed


def _size(path: Path) -> int | None:
    if str(path) == "-":
        return None
    try:
        return path.stat().st_size
    except OSError:
        return None


COMMANDS: list[Any] = [submit, watch, retry]
