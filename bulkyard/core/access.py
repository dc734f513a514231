"""Each HTTP request: a request id, a line in the access log, its latency.

The first middleware: it sees every request Django serves and every response,
redirects and errors of the other middleware included.

- ``X-Request-ID``: taken from the client when it looks like an id, else made
  here; bound to every log line of the request (``request_id``) and echoed in
  the response, so a client's report and the server's lines meet.
- One ``bulkyard.access`` line per request (``BULKYARD_ACCESS_LOG``): method,
  path, route, status, duration in ms, user id, request id. The query string is
  left out (tickets and tokens may travel in it), and so are the values of
  secret-looking URL parameters (a password reset link's token).
- ``bulkyard_http_requests_total`` and ``bulkyard_http_request_duration_seconds``
  by route pattern (``api/v1/jobs/<uuid:pk>/``, never the path itself, whose
  ids would make a series per job).

Its cost on a status read is in docs/performance.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import empty

from bulkyard.core import metrics
from bulkyard.core.logs import request_id_from
from bulkyard.core.secrets import MASK, is_secret_name

logger = logging.getLogger("bulkyard.access")

REQUEST_ID_HEADER = "X-Request-ID"


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            seconds = time.perf_counter() - started
            route = _route(request)
            method = metrics.method_label(request.method or "")
            metrics.HTTP_DURATION.labels(route, method).observe(seconds)
            metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
            if settings.BULKYARD_ACCESS_LOG:
                logger.info(
                    "%s %s %s",
                    request.method,
                    _logged_path(request),
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": _logged_path(request),
                        "route": route,
                        "status": response.status_code,
                        "duration_ms": round(seconds * 1000, 2),
                        "user_id": _user_id(request),
                    },
                )
            return response
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


def _route(request: HttpRequest) -> str:
    """The URL pattern that served the request; ``unmatched`` for the rest
    (static files, unknown paths), so that paths never become labels."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    return f"/{route}" if route else "unmatched"


def _logged_path(request: HttpRequest) -> str:
    """The path, with the values of secret-looking URL parameters masked (a
    password reset link's ``<token>``)."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in (getattr(match, "kwargs", None) or {}).items():
        if isinstance(value, str) and value and is_secret_name(name):
            path = path.replace(value, MASK)
    return path


def _user_id(request: HttpRequest) -> Any:
    """The signed-in user's id, if the request was authenticated; a user the
    view never asked for is not looked up for the log."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return getattr(user, "pk", None)
