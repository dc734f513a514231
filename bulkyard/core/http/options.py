"""How requests are made: timeouts, attempts, redirects, the body cap, the
per-host limits, from the server's settings and what a caller narrows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from bulkyard.core.http.politeness import HostLimits


@dataclass(frozen=True, slots=True)
class CallOptions:
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_attempts: int
    follow_redirects: bool
    max_redirects: int
    max_body_bytes: int
    max_retry_after: float
    retry_base_seconds: float
    retry_max_seconds: float
    host_limits: HostLimits
    user_agent: str

    @classmethod
    def from_settings(
        cls,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        total_timeout: float | None = None,
        max_attempts: int | None = None,
        follow_redirects: bool = True,
        max_redirects: int | None = None,
        max_body_bytes: int | None = None,
        max_retry_after: float | None = None,
        host_concurrency: int | None = None,
        host_rate_per_second: float | None = None,
    ) -> CallOptions:
        """The server's ``BULKYARD_HTTP_*`` settings, each value given here
        taking the place of its setting (callers check their values against
        the settings first: a job's params may only narrow them)."""

        def given(value: Any, setting: Any) -> Any:
            return setting if value is None else value

        return cls(
            connect_timeout=given(connect_timeout, settings.BULKYARD_HTTP_CONNECT_TIMEOUT),
            read_timeout=given(read_timeout, settings.BULKYARD_HTTP_READ_TIMEOUT),
            total_timeout=given(total_timeout, settings.BULKYARD_HTTP_TOTAL_TIMEOUT),
            max_attempts=given(max_attempts, settings.BULKYARD_HTTP_MAX_ATTEMPTS),
            follow_redirects=follow_redirects,
            max_redirects=given(max_redirects, settings.BULKYARD_HTTP_MAX_REDIRECTS),
            max_body_bytes=given(max_body_bytes, settings.BULKYARD_HTTP_MAX_BODY_BYTES),
            max_retry_after=given(max_retry_after, settings.BULKYARD_HTTP_MAX_RETRY_AFTER),
            retry_base_seconds=settings.BULKYARD_HTTP_RETRY_BASE_SECONDS,
            retry_max_seconds=settings.BULKYARD_HTTP_RETRY_MAX_SECONDS,
            host_limits=HostLimits(
                concurrency=given(host_concurrency, settings.BULKYARD_HTTP_HOST_CONCURRENCY),
                rate_per_second=given(
                    host_rate_per_second, settings.BULKYARD_HTTP_HOST_RATE_PER_SECOND
                ),
            ),
            user_agent=settings.BULKYARD_HTTP_USER_AGENT,
        )
