"""Images named by URL, fetched under the outbound-call rules (docs/decisions/0006):
http(s) only, every address checked (loopback, private and link-local ranges refused
unless ``BULKYARD_HTTP_ALLOWED_HOSTS`` opens them), each redirect checked again, the
per-host concurrency and rate shared by every worker, timeouts, retries with backoff,
``Retry-After`` honoured, and a body cap at the largest image accepted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType

from django.conf import settings

from bulkyard.core.event_loops import event_loop_factory
from bulkyard.core.http.client import Caller, RequestSpec, new_session
from bulkyard.core.http.options import CallOptions
from bulkyard.core.http.politeness import host_gate
from bulkyard.jobs.sdk import ItemError

logger = logging.getLogger(__name__)

# Downloads in flight per chunk; images wait in memory for their turn, so few.
CONCURRENCY = 4
# Tighter than http.request's limits: the downloads run on a CPU worker, which
# processes nothing while it waits on the network. An operator's lower
# BULKYARD_HTTP_MAX_ATTEMPTS / BULKYARD_HTTP_MAX_RETRY_AFTER still wins.
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_SECONDS = 60.0


def _options() -> CallOptions:
    return CallOptions.from_settings(
        max_attempts=min(MAX_ATTEMPTS, settings.BULKYARD_HTTP_MAX_ATTEMPTS),
        max_body_bytes=settings.BULKYARD_IMAGE_MAX_FILE_BYTES,
        max_retry_after=min(MAX_RETRY_AFTER_SECONDS, settings.BULKYARD_HTTP_MAX_RETRY_AFTER),
    )


class Downloader:
    """Fetches images for one chunk: one event loop and one connection pool,
    opened on first use and closed with the chunk."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._caller: Caller | None = None

    def __enter__(self) -> Downloader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is None:
            return
        try:
            if self._caller is not None:
                self._runner.run(self._caller.session.close())
        finally:
            self._runner.close()

    def get(self, urls: Sequence[str]) -> list[bytes | ItemError]:
        """Each URL's body, or why it could not be had, in the order given."""
        if self._runner is None:
            self._runner = asyncio.Runner(loop_factory=event_loop_factory())
            self._caller = self._runner.run(self._new_caller())
        return self._runner.run(self._get_all(urls))

    async def _new_caller(self) -> Caller:
        return Caller(new_session(limit=CONCURRENCY), host_gate(), _options())

    async def _get_all(self, urls: Sequence[str]) -> list[bytes | ItemError]:
        return list(await asyncio.gather(*(self._get(url) for url in urls)))

    async def _get(self, url: str) -> bytes | ItemError:
        assert self._caller is not None
        spec = RequestSpec(number=0, method="GET", url=url, replay_safe=True)
        try:
            outcome, body = await self._caller.fetch(spec)
        except Exception as exc:
            # One download's surprise must not fail the chunk's other images.
            logger.exception("download of %s raised", url)
            return ItemError("unexpected_error", f"{url}: {type(exc).__name__}: {exc}")
        if not outcome.succeeded:
            return ItemError(outcome.code, f"{url}: {outcome.message}")
        if outcome.output.get("body_truncated"):
            limit = settings.BULKYARD_IMAGE_MAX_FILE_BYTES
            return ItemError("item_too_large", f"{url}: the image is larger than {limit:,} bytes")
        return body
