"""The ASGI body limit, driven with real ASGI messages."""

import asyncio

import pytest

from bulkyard.core.asgi import MULTIPART_OVERHEAD, BodySizeLimitMiddleware


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
