"""Hundreds of WebSocket clients on one ASGI server (uvicorn), through the
Redis channel layer: they connect, get events and leave all at once."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from rest_framework.authtoken.models import Token

from bulkyard.jobs import events
from bulkyard.jobs.models import Job
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# More than redis-py's default pool (100 connections per event loop), the
# limit that 200 simultaneous disconnects ran into.
FOLLOWERS = 200

# Runs a coroutine given the open sockets.
Followers = Callable[[Callable[[list[Any]], Awaitable[None]]], None]


@pytest.fixture
def server_env(server_env):
    # Streams re-read the database only every minute: what reaches the
    # sockets in the test came through the channel layer.
    return server_env | {"BULKYARD_WS_POLL_SECONDS": "60"}


@pytest.fixture
def job(db):
    """A running job that no worker touches: the test moves its counters."""
    job = Job(
        owner=UserFactory(),
        kind="test.echo",
        status="running",
        input_format="jsonl",
        chunk_size=5,
        total_items=10,
        chunks_total=2,
    )
    job.input_file.save("items.jsonl", ContentFile(b'{"n": 1}\n'), save=False)
    job.save()
    return job


@pytest.fixture
def followers(asgi_server, job) -> Followers:
    """Runs a coroutine with FOLLOWERS sockets open on the job's stream, each
    past its snapshot."""
    token = Token.objects.create(user=job.owner).key
    with httpx.Client(base_url=asgi_server, timeout=30) as client:
        tickets = [
            client.post("/api/v1/ws-ticket/", headers={"Authorization": f"Token {token}"})
            .raise_for_status()
            .json()["ticket"]
            for _ in range(FOLLOWERS)
        ]
    ws_base = asgi_server.replace("http://", "ws://")

    @asynccontextmanager
    async def opened() -> AsyncIterator[list[Any]]:
        sockets = []
        try:
            for ticket in tickets:
                socket = await websockets.connect(
                    f"{ws_base}/ws/jobs/{job.pk}/?ticket={ticket}", open_timeout=30
                )
                sockets.append(socket)
                snapshot = json.loads(await asyncio.wait_for(socket.recv(), 30))
                assert snapshot["type"] == "job.snapshot"
            yield sockets
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))

    def run(body: Callable[[list[Any]], Awaitable[None]]) -> None:
        async def main() -> None:
            async with opened() as sockets:
                await body(sockets)

        asyncio.run(asyncio.wait_for(main(), 120))

    return run


def _server_log(tmp_path: Path) -> str:
    return (tmp_path / "uvicorn.log").read_text(errors="replace")


def _group_members(job: Job) -> int:
    layer = get_channel_layer()
    key = layer._group_key(events.job_group(job.pk))  # channels_redis' own key
    return int(redis.Redis.from_url(settings.REDIS_URL).zcard(key))


def _wait_for_no_members(job: Job, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _group_members(job) and time.monotonic() < deadline:
        time.sleep(0.2)


def _progress_and_publish(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(processed_items=5, succeeded_items=5)
    events.job_changed(job_id=str(job.pk), owner_id=job.owner_id, force=True)


def test_an_event_reaches_every_follower(followers, job):
    received: list[dict[str, Any]] = []

    async def publish_then_read(sockets: list[Any]) -> None:
        await asyncio.to_thread(_progress_and_publish, job)
        for socket in sockets:
            received.append(json.loads(await asyncio.wait_for(socket.recv(), 20)))

    followers(publish_then_read)

    assert len(received) == FOLLOWERS
    assert {(m["type"], m["processed_items"]) for m in received} == {("job.progress", 5)}


def test_followers_leaving_at_once_leave_their_group_and_log_no_error(followers, job, tmp_path):
    async def close_all_at_once(sockets: list[Any]) -> None:
        await asyncio.gather(*(socket.close() for socket in sockets))

    followers(close_all_at_once)
    _wait_for_no_members(job)

    assert "Traceback" not in _server_log(tmp_path)
    assert _group_members(job) == 0
