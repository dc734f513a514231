"""Exit statuses and the one exception a command stops with.

A script branches on the exit status, so each outcome has its own, and none
collides with another: click's own usage errors (status 2) are reported as 4
by ``main.app``, because 2 means a failed job."""

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # the command did what it was asked; a followed job succeeded
    COMPLETED_WITH_ERRORS = 1  # a followed job ended with some items failed
    FAILED = 2  # a followed job failed
    CANCELLED = 3  # a followed job was cancelled
    USAGE = 4  # a bad flag, argument, file or configuration: nothing was sent
    API = 5  # the server refused the request, answered an error, or could not be reached
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


# A finished job's status and the exit status that reports it.
JOB_EXIT_CODES = {
    "succeeded": ExitCode.OK,
    "completed_with_errors": ExitCode.COMPLETED_WITH_ERRORS,
    "failed": ExitCode.FAILED,
    "cancelled": ExitCode.CANCELLED,
}
FINISHED = frozenset(JOB_EXIT_CODES)


class CliError(Exception):
    """What went wrong, in one line for the user, and the exit status."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class UsageProblem(CliError):
    """A problem on the user's side, found before anything was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


class ApiError(CliError):
    """The server answered an error (its code and message), or was not reached
    (``status`` None)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, ExitCode.API)
        self.code = code
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Worth asking again later: no answer, a gateway's error, an outage
        (503) or a throttle (429)."""
        return self.status is None or self.status in (429, 502, 503, 504)
