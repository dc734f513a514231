"""The HTTP side of the ASGI application, driven with real ASGI messages: the
body limit and Django's handler."""

import asyncio
import threading

import pytest
from django.core.signals import request_finished, request_started

from bulkyard.core.asgi import MULTIPART_OVERHEAD, BodySizeLimitMiddleware, SyncStackHandler


def _run(headers, chunks, settings_limit, settings):
    settings.BULKYARD_MAX_UPLOAD_BYTES = settings_limit
    seen = {"body": b"", "disconnected": False, "app_responded": False}
    sent = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen["disconnected"] = True
                return
            seen["body"] += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen["app_responded"] = True
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": headers}
    asyncio.run(BodySizeLimitMiddleware(app)(scope, receive, send))
    return seen, sent


def test_a_declared_length_over_the_limit_is_refused_before_reading(settings):
    too_big = str(10 + MULTIPART_OVERHEAD + 1).encode()

    seen, sent = _run([(b"content-length", too_big)], [b"x"], 10, settings)

    assert sent[0]["status"] == 413
    assert seen["body"] == b""
    assert not seen["app_responded"]


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(settings):
    piece = b"x" * (MULTIPART_OVERHEAD // 2)

    seen, sent = _run([], [piece, piece, piece, piece], 10, settings)

    assert seen["disconnected"]
    assert not seen["app_responded"]
    assert sent[0]["status"] == 413


@pytest.mark.parametrize("chunks", [[b"small"], [b"a", b"b"]])
def test_bodies_within_the_limit_pass_through(settings, chunks):
    seen, sent = _run([], chunks, 1000, settings)

    assert seen["body"] == b"".join(chunks)
    assert sent[0]["status"] == 202


# --- SyncStackHandler: Django's handler, one thread hop per request ----------------------

RECORDED: list[tuple[str, int]] = []
BARRIER = threading.Barrier(2, timeout=10)


class ThreadRecorder:
    """A sync-only middleware (as WhiteNoise is) noting the thread it runs on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        RECORDED.append(("middleware", threading.get_ident()))
        if request.path == "/together/":
            BARRIER.wait()  # both requests must be inside at once
        return self.get_response(request)


def _get(handler, path: str):
    async def call():
        requested = False
        sent = []

        async def receive():
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays until the response
            raise AssertionError("unreachable")

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1")],
        }
        await handler(scope, receive, send)
        return sent[0]["status"]

    return call()


@pytest.fixture
def recorded_threads(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.core.test_asgi.ThreadRecorder"]
    RECORDED.clear()

    def started(**kwargs):
        RECORDED.append(("started", threading.get_ident()))

    def finished(**kwargs):
        RECORDED.append(("finished", threading.get_ident()))

    request_started.connect(started)
    request_finished.connect(finished)
    yield RECORDED
    request_started.disconnect(started)
    request_finished.disconnect(finished)


def test_a_request_runs_on_one_thread_reused_by_the_next(recorded_threads):
    handler = SyncStackHandler()

    async def two_requests():
        return [await _get(handler, "/no-such-page/") for _ in range(2)]

    statuses = asyncio.run(two_requests())

    assert statuses == [404, 404]
    steps = [step for step, _ in recorded_threads]
    assert steps == ["started", "middleware", "finished"] * 2
    assert len({thread for _, thread in recorded_threads}) == 1
    assert recorded_threads[0][1] != threading.get_ident()


def test_requests_in_flight_together_run_on_threads_of_their_own(recorded_threads):
    handler = SyncStackHandler()

    async def together():
        return await asyncio.gather(_get(handler, "/together/"), _get(handler, "/together/"))

    # On one shared thread the second request would wait for the first at the barrier.
    assert asyncio.run(together()) == [404, 404]
    middleware_threads = {thread for step, thread in recorded_threads if step == "middleware"}
    assert len(middleware_threads) == 2


def test_the_middleware_chain_is_sync(settings):
    # One hop into a thread for the whole chain, not one per middleware method.
    assert not asyncio.iscoroutinefunction(SyncStackHandler()._middleware_chain)
