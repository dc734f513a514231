"""Making one request safely: destination checks on every hop, per-host
politeness, timeouts, a response size cap, retries with backoff and jitter,
``Retry-After`` honoured.

aiohttp rather than httpx: with hundreds of requests in flight, httpx's
connection pool spent tens of times aiohttp's CPU per request on its waiters
(decision 0006); and aiohttp's resolver hook is where the destination check
belongs, so that the address checked is the address connected to.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from bulkyard.core import metrics
from bulkyard.core.backoff import backoff_seconds
from bulkyard.core.http.options import CallOptions
from bulkyard.core.http.politeness import HostGate
from bulkyard.core.http.safety import GuardedResolver, InvalidURL, Refused, check_url, refusal_in
from bulkyard.core.secrets import MASK, is_secret_name, mask_secrets

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Answers worth another attempt; the first four say the request was not acted on.
NOT_ACTED_ON_STATUSES = frozenset({408, 425, 429, 503})
RETRIED_STATUSES = NOT_ACTED_ON_STATUSES | {500, 502, 504}
REPLAY_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


@dataclass(frozen=True, slots=True)
class RequestSpec:
    number: int
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # How to make each attempt's extra headers (a webhook's signature, which
    # carries the attempt's time), given the body.
    signer: Callable[[bytes], dict[str, str]] | None = None
    # Whether sending it twice does no harm (GET, PUT, a webhook with a stable
    # id, a POST with an Idempotency-Key): decides what happens to a request
    # a crashed run may or may not have sent.
    replay_safe: bool = False


@dataclass(slots=True)
class CallOutcome:
    number: int
    succeeded: bool
    code: str = ""
    message: str = ""
    output: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "code": self.code,
            "message": self.message,
            "output": self.output,
        }

    @classmethod
    def from_json(cls, number: int, data: Mapping[str, Any]) -> CallOutcome:
        return cls(
            number=number,
            succeeded=bool(data["succeeded"]),
            code=str(data.get("code", "")),
            message=str(data.get("message", "")),
            output=dict(data.get("output") or {}),
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt came to: the answer's status, or none and why (``code``:
    ``timeout``, ``connection_error``, ``destination_refused``, ``invalid_url``)."""

    status: int | None
    code: str
    message: str
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class _Answer:
    status: int
    reason: str
    headers: CIMultiDict[str]  # names in any case: "retry-after" is "Retry-After"
    body: bytes
    truncated: bool
    url: str
    redirects: int
    seconds: float


class _Transient(Exception):
    """A failure worth another attempt. ``reached``: the request may have been
    carried out (a 500, a read timeout), so only replay-safe ones are retried;
    a refused connection, a 429 or a 503 leave nothing done."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        reached: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after
        self.reached, self.status = reached, status


def new_session(*, limit: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(),
        # Each new connection resolves and checks again; a cached answer
        # would outlive the check that admitted it.
        use_dns_cache=False,
        limit=limit,
        limit_per_host=0,
    )
    return aiohttp.ClientSession(
        connector=connector,
        # Proxies from the environment would bypass the destination checks.
        trust_env=False,
        auto_decompress=True,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class Caller:
    def __init__(self, session: aiohttp.ClientSession, gate: HostGate, options: CallOptions):
        self.session = session
        self.gate = gate
        self.options = options
        self.timeout = aiohttp.ClientTimeout(
            total=options.total_timeout,
            connect=options.connect_timeout,
            sock_read=options.read_timeout,
        )

    async def call(self, spec: RequestSpec) -> CallOutcome:
        """The outcome of a request after its retries; never raises for the
        request's own failures."""
        outcome, _ = await self.fetch(spec, describe_body=True)
        return outcome

    async def fetch(
        self, spec: RequestSpec, *, describe_body: bool = False
    ) -> tuple[CallOutcome, bytes]:
        """``call``, with the response body's bytes as received (empty when the
        request failed); the outcome describes the body only if asked."""
        options = self.options
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = await self._attempt(spec)
            except (Refused, InvalidURL) as exc:
                return _failed(spec, exc.code, str(exc), attempts=attempt), b""
            except _Transient as exc:
                if exc.reached and not spec.replay_safe:
                    # The server may have acted on it: a POST is not sent twice.
                    return _failed(
                        spec,
                        exc.code,
                        f"{exc.message}; not tried again: the server may have carried out this "
                        f"{spec.method} (send an Idempotency-Key header to allow retries)",
                        attempts=attempt,
                    ), b""
                if attempt >= options.max_attempts:
                    return _failed(
                        spec,
                        exc.code,
                        f"{exc.message} (after {attempt} attempts)",
                        attempts=attempt,
                    ), b""
                delay = backoff_seconds(
                    attempt, base=options.retry_base_seconds, cap=options.retry_max_seconds
                )
                if exc.retry_after is not None:
                    if exc.retry_after > options.max_retry_after:
                        return _failed(
                            spec,
                            exc.code,
                            f"{exc.message}; the server asks to wait {exc.retry_after:.0f} s, "
                            f"longer than the {options.max_retry_after:.0f} s allowed",
                            attempts=attempt,
                        ), b""
                    delay = exc.retry_after
                await asyncio.sleep(delay)
                continue
            outcome = _answered(
                spec,
                answer,
                attempts=attempt,
                secrets=_secret_values(spec),
                describe_body=describe_body,
            )
            return outcome, answer.body if outcome.succeeded else b""

    async def attempt(self, spec: RequestSpec) -> Attempt:
        """One attempt and no retry, for callers that keep their own schedule
        of retries (a job's completion callback, tried again over hours)."""
        try:
            answer = await self._attempt(spec)
        except (Refused, InvalidURL) as exc:
            return Attempt(status=None, code=exc.code, message=str(exc))
        except _Transient as exc:
            return Attempt(exc.status, exc.code, exc.message, exc.retry_after)
        if 200 <= answer.status < 300:
            return Attempt(status=answer.status, code="", message="")
        reason = f"{answer.status} {answer.reason}".strip()
        return Attempt(status=answer.status, code=f"http_{answer.status}", message=reason)

    async def _attempt(self, spec: RequestSpec) -> _Answer:
        options = self.options
        method, url, body = spec.method, check_url(spec.url), spec.body
        headers = {"User-Agent": options.user_agent, **spec.headers}
        started = time.perf_counter()
        for redirects in range(options.max_redirects + 1):
            answer = await self._send(method, url, headers, body, spec, redirects, started)
            if not (options.follow_redirects and answer.status in REDIRECTS):
                return answer
            location = answer.headers.get("Location")
            if not location:
                return answer
            try:
                target = check_url(url.join(URL(location)))
            except (InvalidURL, Refused, ValueError, TypeError) as exc:
                raise Refused(f"redirect to {location!r} refused: {exc}") from None
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if target.origin() != url.origin():
                # Credentials are for the origin they were given for.
                headers = {k: v for k, v in headers.items() if not is_secret_name(k)}
            url = target
        raise Refused(f"more than {options.max_redirects} redirects")

    async def _send(
        self,
        method: str,
        url: URL,
        headers: dict[str, str],
        body: bytes | None,
        spec: RequestSpec,
        redirects: int,
        started: float,
    ) -> _Answer:
        options = self.options
        host = url.host or ""
        if spec.signer is not None:
            headers = {**headers, **spec.signer(body or b"")}
        token = await self.gate.acquire(
            host, options.host_limits, lease_seconds=options.total_timeout + 5
        )
        sent = time.perf_counter()
        try:
            async with self.session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self.timeout,
            ) as response:
                data, truncated = await _read_capped(response, options.max_body_bytes)
                if truncated:
                    response.close()  # the rest is never read
                answer = _Answer(
                    status=response.status,
                    reason=response.reason or "",
                    headers=CIMultiDict(response.headers),
                    body=data,
                    truncated=truncated,
                    url=str(url),
                    redirects=redirects,
                    seconds=time.perf_counter() - started,
                )
        except TimeoutError as exc:
            metrics.OUTBOUND_REQUESTS.labels("timeout").inc()
            kind = _timeout_kind(exc)
            raise _Transient(
                "timeout",
                f"no answer from {host} in time ({kind})",
                reached=kind != "connect timeout",
            ) from None
        except aiohttp.ClientError as exc:
            refused = refusal_in(exc)
            metrics.OUTBOUND_REQUESTS.labels(
                "connection_error" if refused is None else "refused"
            ).inc()
            if refused is not None:
                raise refused from None
            raise _Transient(
                "connection_error",
                f"{type(exc).__name__}: {exc}",
                # A connection never made carried nothing.
                reached=not isinstance(exc, aiohttp.ClientConnectorError),
            ) from None
        finally:
            await self.gate.release(host, token)
        metrics.OUTBOUND_REQUESTS.labels(metrics.status_class(answer.status)).inc()
        metrics.OUTBOUND_DURATION.observe(time.perf_counter() - sent)
        if answer.status in RETRIED_STATUSES:
            retry_after = None
            if answer.status in (429, 503):
                retry_after = _retry_after(answer.headers.get("Retry-After"))
                if retry_after is not None:
                    # Every worker waits, not only this request.
                    await self.gate.pause(host, min(retry_after, options.max_retry_after))
            raise _Transient(
                f"http_{answer.status}",
                f"{answer.status} {answer.reason}".strip(),
                reached=answer.status not in NOT_ACTED_ON_STATUSES,
                retry_after=retry_after,
                status=answer.status,
            )
        return answer


def _timeout_kind(exc: BaseException) -> str:
    name = type(exc).__name__
    if "Connect" in name:
        return "connect timeout"
    if "SocketTimeout" in name or "Read" in name:
        return "read timeout"
    return "total timeout"


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    # One growing buffer, never more than the cap plus a block: a large body
    # costs no more memory than the part of it that is kept.
    body = bytearray()
    async for block in response.content.iter_chunked(65536):
        body += block
        if len(body) > cap:
            del body[cap:]
            return bytes(body), True
    return bytes(body), False


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _secret_values(spec: RequestSpec) -> list[str]:
    """Values of the request's secret headers (and the token of "Bearer
    <token>"), to scrub from what the server sends back: an echo of a
    credential must not land in the results."""
    values: set[str] = set()
    for name, value in spec.headers.items():
        if is_secret_name(name):
            values.add(value)
            _scheme, _, token = value.partition(" ")
            if token:
                values.add(token)
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def _answered(
    spec: RequestSpec,
    answer: _Answer,
    *,
    attempts: int,
    secrets: list[str],
    describe_body: bool = True,
) -> CallOutcome:
    output = _output(answer, attempts=attempts, describe_body=describe_body)
    if secrets:
        output["body"] = _scrub(output["body"], secrets)
        output["headers"] = {k: _scrub(v, secrets) for k, v in output["headers"].items()}
    if 200 <= answer.status < 300:
        return CallOutcome(number=spec.number, succeeded=True, output=output)
    return CallOutcome(
        number=spec.number,
        succeeded=False,
        code=f"http_{answer.status}",
        message=f"the server answered {answer.status} {answer.reason}".strip(),
        output=output,
    )


def _failed(spec: RequestSpec, code: str, message: str, *, attempts: int) -> CallOutcome:
    return CallOutcome(
        number=spec.number,
        succeeded=False,
        code=code,
        message=message,
        output={"status": None, "attempts": attempts},
    )


def _output(answer: _Answer, *, attempts: int, describe_body: bool = True) -> dict[str, Any]:
    # A body kept as bytes by the caller (an image) is not also encoded here.
    body, encoding = _body_text(answer) if describe_body else ("", "omitted")
    return {
        "status": answer.status,
        "latency_ms": round(answer.seconds * 1000, 1),
        "attempts": attempts,
        "url": answer.url,
        "redirects": answer.redirects,
        # Set-Cookie and the like are masked like every secret-looking name.
        "headers": mask_secrets(dict(answer.headers)),
        "body": body,
        "body_encoding": encoding,
        "body_truncated": answer.truncated,
    }


def _body_text(answer: _Answer) -> tuple[str, str]:
    """UTF-8 text, or base64 for a body that is not UTF-8. A body cut at the
    cap may end inside a character: that tail is dropped, not the text."""
    body = answer.body
    for cut in range(4 if answer.truncated else 1):
        try:
            return body[: len(body) - cut].decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            continue
    return base64.b64encode(body).decode(), "base64"
