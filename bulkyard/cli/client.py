"""The API over HTTP (httpx): one method per call the commands make, every
error turned into an ``ApiError`` that says in one line what happened."""

import json
import os
import re
import shutil
import stat
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from bulkyard.cli.errors import ApiError, UsageProblem

API = "/api/v1"
# Connecting fails fast; an upload may take as long as it takes to send; a
# read waits for the next bytes of an answer (a download's, too), not its end.
TIMEOUT = httpx.Timeout(60.0, connect=10.0, write=None)
SPOOL_PIECE_BYTES = 1024 * 1024
UUID_IN_TEXT = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def client_version() -> str:
    try:
        return version("bulkyard")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def user_agent() -> str:
    return f"bulkyard-cli/{client_version()}"


def job_id_from(text: str) -> str:
    """A job id, given as one or inside a job's URL (``links.status``)."""
    found = UUID_IN_TEXT.findall(text)
    if len(found) != 1:
        raise UsageProblem(f"{text!r} is not a job id (a UUID) nor a job's URL")
    return str(uuid.UUID(found[0]))


def error_from_response(response: httpx.Response) -> ApiError:
    """The API's error (``{"error": {"code", "message", "details"}}``) in one
    line; a body of another shape (a proxy's page) by its HTTP status."""
    status = response.status_code
    try:
        error = response.json()["error"]
        code = str(error["code"])
        text = f"{error['message']} ({code}, HTTP {status})"
    except (ValueError, KeyError, TypeError):
        code = f"http_{status}"
        text = f"the server answered HTTP {status} {response.reason_phrase}"
    hint = None
    if status == 401:
        hint = "check the token (--token, BULKYARD_TOKEN or the config file)"
    retry_after = _retry_after(response)
    if retry_after is not None and status in (429, 503):
        hint = f"try again in {retry_after:g} s"
    return ApiError(
        f"{text}; {hint}" if hint else text, code=code, status=status, retry_after=retry_after
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:  # absent, or an HTTP date: not worth parsing for a hint
        return None


class _CountingFile:
    """A regular file handed to httpx, which reads it in 64 KiB pieces (never
    whole), telling ``on_read`` how many bytes went. httpx finds its size
    through ``fileno`` and states the request's Content-Length, so the
    server refuses an oversized upload at once."""

    def __init__(self, file: IO[bytes], on_read: Callable[[int], None] | None) -> None:
        self._file = file
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        if self._on_read is not None and data:
            self._on_read(len(data))
        return data

    def fileno(self) -> int:
        return self._file.fileno()


@dataclass(frozen=True)
class Download:
    """A download as it arrives: the file name the server gives
    (Content-Disposition), and the body in pieces."""

    name: str | None
    pieces: Iterator[bytes]


class ApiClient:
    def __init__(self, *, url: str, token: str) -> None:
        self.url = url
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Token {token}", "User-Agent": user_agent()},
            timeout=TIMEOUT,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    # -- one call each -----------------------------------------------------------

    def job_get(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"{API}/jobs/{job_id}/")

    def job_list(self, *, status: str | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
        query = {"page_size": str(limit), "status": status, "kind": kind}
        page = self._json("GET", f"{API}/jobs/", params={k: v for k, v in query.items() if v})
        return list(page["results"])

    def job_action(
        self, job_id: str, action: str, *, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """POST to ``cancel``, ``retry``, ``pause`` or ``resume``: the job it
        returns, and whether the server replayed an earlier answer."""
        response = self._send(
            "POST", f"{API}/jobs/{job_id}/{action}/", headers=_idempotency(idempotency_key)
        )
        return response.json(), _replayed(response)

    def job_submit(
        self,
        *,
        kind: str,
        file: Path | None,
        input_format: str | None,
        params: dict[str, Any],
        chunk_size: int | None,
        priority: str | None,
        idempotency_key: str | None,
        attachments: list[Path],
        on_upload: Callable[[int], None] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        fields: dict[str, Any] = {"kind": kind, "params": params}
        for name, value in (("format", input_format), ("chunk_size", chunk_size)):
            if value is not None:
                fields[name] = value
        if priority is not None:
            fields["priority"] = priority
        headers = _idempotency(idempotency_key)
        if file is None and not attachments:
            # Kinds that find their own items: a JSON body, nothing to upload.
            response = self._send("POST", f"{API}/jobs/", json=fields, headers=headers)
            return response.json(), _replayed(response)
        with ExitStack() as files:
            parts: list[tuple[str, tuple[str, Any]]] = []
            if file is not None:
                parts.append(("file", self._part(files, file, input_format, on_upload)))
            for attachment in attachments:
                parts.append(("attachments", self._part(files, attachment, None, on_upload)))
            form = {
                name: json.dumps(value) if name == "params" else str(value)
                for name, value in fields.items()
            }
            response = self._send("POST", f"{API}/jobs/", data=form, files=parts, headers=headers)
        return response.json(), _replayed(response)

    def kinds(self) -> list[dict[str, Any]]:
        return list(self._json("GET", f"{API}/kinds/"))

    def ws_ticket(self) -> str:
        return str(self._json("POST", f"{API}/ws-ticket/")["ticket"])

    def websocket_url(self, job_id: str, ticket: str) -> str:
        base = re.sub(r"^http", "ws", self.url)
        return f"{base}/ws/jobs/{job_id}/?ticket={ticket}"

    @contextmanager
    def download(
        self, job_id: str, what: str, params: dict[str, str] | None = None
    ) -> Iterator[Download]:
        """Streams ``results`` or ``output``. On object storage the server
        answers with a redirect to a presigned URL, fetched here without this
        client's token: the URL carries its own signature, a store refuses a
        request with two, and the token is for the API alone."""
        try:
            with ExitStack() as answers:
                answer = answers.enter_context(
                    self._http.stream("GET", f"{API}/jobs/{job_id}/{what}/", params=params)
                )
                if answer.is_redirect and "Location" in answer.headers:
                    answer = answers.enter_context(self._stream_elsewhere(answer))
                if answer.is_error:
                    answer.read()
                    raise error_from_response(answer)
                yield Download(name=_attachment_name(answer), pieces=answer.iter_bytes())
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    def _stream_elsewhere(self, redirect: httpx.Response) -> AbstractContextManager[httpx.Response]:
        """The redirect's target streamed, with no header of this client's but
        its User-Agent (httpx would keep the token on a same-origin redirect)."""
        target = redirect.request.url.join(redirect.headers["Location"])
        request = self._http.build_request("GET", target)
        del request.headers["Authorization"]
        return closing(self._http.send(request, stream=True, follow_redirects=True))

    # -- plumbing ----------------------------------------------------------------

    def _part(
        self,
        files: ExitStack,
        path: Path,
        input_format: str | None,
        on_upload: Callable[[int], None] | None,
    ) -> tuple[str, Any]:
        if str(path) == "-":
            # Django reads no multipart body without a Content-Length, and a
            # pipe has none: standard input is spooled to a temporary file
            # (on disk, never whole in memory) and sent from there.
            spool = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by files
            shutil.copyfileobj(sys.stdin.buffer, spool, SPOOL_PIECE_BYTES)
            spool.seek(0)
            return f"stdin.{input_format or 'csv'}", _CountingFile(spool, on_upload)
        try:
            opened = files.enter_context(path.open("rb"))
        except OSError as exc:
            raise UsageProblem(f"cannot read {path}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(opened.fileno()).st_mode):
            raise UsageProblem(f"{path} is not a regular file: pipe it to standard input ('-')")
        return path.name, _CountingFile(opened, on_upload)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"the server's answer to {method} {path} is not JSON: is {self.url} a Bulkyard?",
                code="not_json",
                status=response.status_code,
            ) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.is_error:
            raise error_from_response(response)
        return response

    def _unreachable(self, exc: httpx.HTTPError) -> ApiError:
        if isinstance(exc, httpx.TimeoutException):
            what = f"no answer from {self.url} in time ({type(exc).__name__})"
        else:
            what = f"cannot reach {self.url}: {exc or type(exc).__name__}"
        return ApiError(what, code="unreachable", status=None)


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _replayed(response: httpx.Response) -> bool:
    return response.headers.get("Idempotent-Replayed") == "true"


def _attachment_name(response: httpx.Response) -> str | None:
    found = re.search(r'\bfilename="([^"]+)"', response.headers.get("Content-Disposition", ""))
    return Path(found[1]).name if found else None
