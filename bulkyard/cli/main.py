"""The ``bulkyard`` console script: the command group and the exit statuses
(``errors.ExitCode``). The commands are in ``commands`` and ``submit``."""

import os
import sys
from typing import NoReturn

import click

from bulkyard.cli import commands, render, submit
from bulkyard.cli.client import client_version
from bulkyard.cli.errors import CliError, ExitCode
from bulkyard.cli.options import connection_options


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(client_version(), "--version", prog_name="bulkyard")
@connection_options
def cli() -> None:
    """Submit and follow Bulkyard jobs from the command line.

    Exit status: 0 done (a followed job succeeded), 1 a followed job completed
    with errors, 2 it failed, 3 it was cancelled, 4 a usage or configuration
    error, 5 the server refused or could not be reached, 130 interrupted.
    """


for command in (*commands.COMMANDS, *submit.COMMANDS):
    cli.add_command(command)


def run(args: list[str] | None = None) -> int:
    """Runs the command line ``args`` (the process's own if None) and
    returns its exit status; every error is one line on stderr."""
    err = render.errors()
    try:
        code = cli.main(args, prog_name="bulkyard", standalone_mode=False)
    except click.ClickException as exc:  # usage errors: 4, not click's 2 (a failed job)
        # One line, as every other error: click's own is a usage block of three.
        err.print(f"bulkyard: {exc.format_message()}{_help_hint(exc)}", style="red", markup=False)
        return ExitCode.USAGE
    except click.Abort:
        err.print("interrupted")
        return ExitCode.INTERRUPTED
    except CliError as exc:
        err.print(f"bulkyard: {exc.message}", style="red", markup=False)
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our output went away (`bulkyard results ID | head`):
        # nothing more to say, and nothing to flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code if isinstance(code, int) else ExitCode.OK


def _help_hint(exc: click.ClickException) -> str:
    context = exc.ctx if isinstance(exc, click.UsageError) else None
    return f" (see {context.command_path} -h)" if context is not None else ""


def app() -> NoReturn:
    sys.exit(run())
