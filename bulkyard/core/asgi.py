"""The HTTP side of the ASGI application: Django's handler and a middleware."""

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from bulkyard.core.sizes import human_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Room for multipart boundaries and form fields around the file itself.
MULTIPART_OVERHEAD = 1024 * 1024


class BodySizeLimitMiddleware:
    """Refuses request bodies over the upload limit with 413 before they are
    stored. Django's ASGI handler spools the whole body to disk before any
    view runs, so the limit must be enforced here, on the byte stream: by
    ``Content-Length`` at once, and by counting for chunked bodies."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.BULKYARD_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(send)
                return

        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    # The app sees the client gone and stops reading.
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited_receive, send)
        if exceeded:
            await _send_413(send)


async def _send_413(send: Send) -> None:
    # The configured limit, not the multipart overhead allowed on top of it.
    limit = human_bytes(settings.BULKYARD_MAX_UPLOAD_BYTES)
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is larger than the upload limit of {limit}",
                "details": None,
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SyncStackHandler(ASGIHandler):
    """Django's ASGI handler, made cheap for the sync views and middleware
    that Bulkyard has only (DRF, the admin, WhiteNoise).

    Django's own handler builds an async middleware chain: every sync
    ``process_request``/``process_response`` and the sync WhiteNoise between
    them cost a hop between the event loop and a thread (about 30 hops per
    request), and each request runs its sync code on a thread created for it
    and joined by yet another thread: together about half the CPU of a status
    read. Here the middleware chain is the sync one, run with the
    view in a single hop, on a thread reused from request to request.

    Each request still has a thread of its own while it runs (a slow upload
    does not hold up the others), and every thread-sensitive call of one
    request (the view, the streamed body of a download, the
    ``request_finished`` signal that hands the database connection back to
    the pool) runs on that same thread, as with Django's handler.
    """

    # Idle threads kept for the next requests; more run when more requests
    # are in flight at once, and those beyond this are ended afterwards.
    max_idle_threads = 32

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await sync_to_async(self.get_response, thread_sensitive=True)(
            request
        )
        return response

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send: Callable[[Mapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, "http")
        try:
            # Django's handle() waits for the request's last thread-sensitive
            # call (request_finished) before returning, so the thread is idle
            # again when the executor goes back to the list.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < self.max_idle_threads:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)
