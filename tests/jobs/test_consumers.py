"""WebSocket streams, through the real ASGI application and channel layer (Redis)."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.base import ContentFile
from django.utils import timezone

from bulkyard.jobs import consumers, events, services
from bulkyard.jobs.consumers import SharedReads
from bulkyard.jobs.models import Chunk, ItemResult, Job
from bulkyard.users.tickets import ws_ticket_issue
from config.asgi import application
from tests.factories import UserFactory
from tests.support.jobs import submit_items

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def job(user):
    """A running job that no worker touches: the tests move its counters."""
    job = Job(
        owner=user,
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


def _retry_of(job) -> Job:
    """A retry job of ``job``, made as the API makes it: ``job`` finishes with
    one failed item, then its failed items are retried."""
    _set(job, status="completed_with_errors", processed_items=10, failed_items=1)
    chunk = Chunk.objects.create(
        job=job,
        sequence=0,
        byte_start=0,
        byte_end=9,
        start_line=1,
        first_item_number=1,
        item_count=1,
        status="done",
    )
    ItemResult.objects.create(
        job=job, chunk=chunk, item_number=1, outcome="failed", code="boom", input={"n": 1}
    )
    retry, _ = services.job_retry_failed(job=Job.objects.get(pk=job.pk), owner=job.owner)
    return retry


async def _connect(path: str, *, user=None, origin: str | None = None):
    if user is not None:
        ticket = await sync_to_async(ws_ticket_issue)(user=user)
        path = f"{path}?ticket={ticket}"
    headers = [(b"origin", origin.encode())] if origin else []
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def _messages_until_close(communicator, timeout: float = 5.0) -> list:
    received = []
    while True:
        message = await communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            received.append(("close", message.get("code")))
            return received
        received.append(json.loads(message["text"]))


async def test_unauthenticated_connection_is_closed_with_4401(job):
    communicator, connected = await _connect(f"/ws/jobs/{job.pk}/")

    assert connected
    error = await communicator.receive_json_from()
    assert error["code"] == "unauthenticated"
    assert (await communicator.receive_output())["code"] == 4401


async def test_another_users_job_is_closed_with_4404(job, other_user):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=other_user)

    error = await communicator.receive_json_from()
    assert error["code"] == "not_found"
    assert (await communicator.receive_output())["code"] == 4404


async def test_an_expired_job_is_closed_with_4404(job, user):
    expired = timezone.now() - timedelta(seconds=1)
    await sync_to_async(_set)(job, status="succeeded", expires_at=expired)

    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)

    assert (await communicator.receive_json_from())["code"] == "not_found"
    assert (await communicator.receive_output())["code"] == 4404


async def test_a_ticket_works_only_once(job, user):
    ticket = await sync_to_async(ws_ticket_issue)(user=user)
    first = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/?ticket={ticket}")
    await first.connect()
    assert (await first.receive_json_from())["type"] == "job.snapshot"
    await first.disconnect()

    second = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/?ticket={ticket}")
    await second.connect()
    assert (await second.receive_json_from())["code"] == "unauthenticated"
    await second.disconnect()


async def test_a_forged_ticket_is_refused(job):
    communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/?ticket=1:2:3")
    await communicator.connect()

    assert (await communicator.receive_json_from())["code"] == "unauthenticated"
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused(job, user):
    _, connected = await _connect(f"/ws/jobs/{job.pk}/", user=user, origin="https://evil.test")

    assert not connected


async def test_an_allowed_origin_is_accepted(job, user):
    communicator, connected = await _connect(
        f"/ws/jobs/{job.pk}/", user=user, origin="http://localhost"
    )

    assert connected
    await communicator.disconnect()


async def test_connect_sends_a_snapshot_of_the_current_state(job, user):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)

    snapshot = await communicator.receive_json_from()

    assert snapshot["type"] == "job.snapshot"
    assert snapshot["job"]["id"] == str(job.pk)
    assert snapshot["job"]["status"] == "running"
    assert snapshot["job"]["total_items"] == 10
    await communicator.disconnect()


async def test_progress_and_the_final_state_are_pushed_then_the_socket_closes(job, user):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)
    await communicator.receive_json_from()

    await sync_to_async(_set)(job, processed_items=5, succeeded_items=5, chunks_finished=1)
    await sync_to_async(events.job_changed)(job_id=str(job.pk), owner_id=user.pk, force=True)
    progress = await communicator.receive_json_from(timeout=3)
    await sync_to_async(_set)(job, status="succeeded", processed_items=10, succeeded_items=10)
    rest = await _messages_until_close(communicator)

    assert progress["type"] == "job.progress"
    assert (progress["processed_items"], progress["percent"]) == (5, 50.0)
    types = [m["type"] for m in rest[:-1]]
    assert types == ["job.status", "job.progress", "job.finished"]
    assert rest[0]["status"] == "succeeded"
    assert rest[0]["previous_status"] == "running"
    assert rest[2]["job"]["processed_items"] == 10
    assert rest[-1] == ("close", 1000)


async def test_changes_are_seen_without_any_event_by_reading_the_database(job, user):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)
    await communicator.receive_json_from()

    await sync_to_async(_set)(job, processed_items=3, succeeded_items=3)  # no event sent
    progress = await communicator.receive_json_from(timeout=3)

    assert progress["processed_items"] == 3
    await communicator.disconnect()


async def test_a_burst_of_changes_is_throttled_to_a_few_messages_a_second(job, user, settings):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)
    await communicator.receive_json_from()

    started = time.monotonic()
    for processed in range(1, 41):
        await sync_to_async(_set)(job, processed_items=processed)
        await sync_to_async(events.job_changed)(job_id=str(job.pk), owner_id=user.pk, force=True)
        await asyncio.sleep(0.025)
    elapsed = time.monotonic() - started
    received = []
    while not await communicator.receive_nothing(timeout=1.5):
        received.append(await communicator.receive_json_from())

    assert received[-1]["processed_items"] == 40
    ceiling = elapsed / settings.BULKYARD_WS_MIN_INTERVAL_SECONDS + 2
    assert len(received) <= ceiling < 40
    await communicator.disconnect()


async def test_a_finished_job_gets_its_snapshot_and_final_state_then_closes(job, user):
    await sync_to_async(_set)(job, status="cancelled")
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)

    messages = await _messages_until_close(communicator)

    assert [m["type"] for m in messages[:-1]] == ["job.snapshot", "job.finished"]
    assert messages[1]["job"]["status"] == "cancelled"
    assert messages[-1] == ("close", 1000)


async def test_the_user_stream_lists_own_jobs_then_pushes_changes(job, user, other_client):
    await sync_to_async(submit_items)(other_client, [1])
    communicator, _ = await _connect("/ws/jobs/", user=user)

    snapshot = await communicator.receive_json_from()
    await sync_to_async(_set)(job, processed_items=7)
    await sync_to_async(events.job_changed)(job_id=str(job.pk), owner_id=user.pk, force=True)
    update = await communicator.receive_json_from(timeout=3)

    assert snapshot["type"] == "jobs.snapshot"
    assert [j["id"] for j in snapshot["jobs"]] == [str(job.pk)]
    assert update["type"] == "job.updated"
    assert update["job"]["processed_items"] == 7
    await communicator.disconnect()


async def test_pause_and_resume_are_streamed_as_status_changes_on_an_open_stream(job, user):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)
    await communicator.receive_json_from()

    await sync_to_async(services.job_pause)(job=job)
    paused = await communicator.receive_json_from(timeout=3)
    await sync_to_async(services.job_resume)(job=job)
    resumed = await communicator.receive_json_from(timeout=3)

    assert (paused["type"], paused["status"], paused["previous_status"]) == (
        "job.status",
        "paused",
        "running",
    )
    assert (resumed["status"], resumed["previous_status"]) == ("running", "paused")
    await communicator.disconnect()


def _set(job, **fields):
    Job.objects.filter(pk=job.pk).update(**fields)


async def test_a_retry_job_can_be_followed(job, user):
    retry = await sync_to_async(_retry_of)(job)
    communicator, _ = await _connect(f"/ws/jobs/{retry.pk}/", user=user)

    snapshot = await communicator.receive_json_from()

    assert snapshot["type"] == "job.snapshot"
    assert snapshot["job"]["retry_of"] == str(job.pk)
    await communicator.disconnect()


async def test_the_user_stream_lists_retry_jobs_among_recent_jobs(job, user):
    retry = await sync_to_async(_retry_of)(job)
    communicator, _ = await _connect("/ws/jobs/", user=user)

    snapshot = await communicator.receive_json_from()

    assert snapshot["type"] == "jobs.snapshot"
    by_id = {j["id"]: j for j in snapshot["jobs"]}
    assert by_id[str(retry.pk)]["retry_of"] == str(job.pk)
    await communicator.disconnect()


async def test_a_failure_while_connecting_closes_the_socket_with_1011(job, user, monkeypatch):
    def broken_state(job):
        raise RuntimeError("cannot build the message")

    monkeypatch.setattr(consumers, "_job_state", broken_state)
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)

    assert await _messages_until_close(communicator) == [("close", 1011)]


async def test_streams_never_carry_credentials_from_params(job, user):
    await sync_to_async(_set)(job, params={"smtp_password": "hunter2", "n": 1})
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)

    snapshot = await communicator.receive_json_from()

    assert snapshot["job"]["params"]["smtp_password"] != "hunter2"
    assert snapshot["job"]["params"]["n"] == 1
    await communicator.disconnect()


async def test_garbage_frames_are_ignored_and_the_stream_goes_on(job, user):
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=user)
    await communicator.receive_json_from()

    await communicator.send_to(bytes_data=b"\x00\x01")
    await communicator.send_to(text_data="{not json")
    await sync_to_async(_set)(job, processed_items=4)
    await communicator.send_json_to({"type": "refresh"})
    progress = await communicator.receive_json_from(timeout=3)

    assert progress["processed_items"] == 4
    await communicator.disconnect()


async def test_staff_with_view_permission_follow_any_job(job):
    staff = await sync_to_async(UserFactory)(is_staff=True, is_superuser=True)
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=staff)

    assert (await communicator.receive_json_from())["type"] == "job.snapshot"
    await communicator.disconnect()


async def test_staff_without_view_permission_cannot_follow_others_jobs(job):
    staff = await sync_to_async(UserFactory)(is_staff=True)
    communicator, _ = await _connect(f"/ws/jobs/{job.pk}/", user=staff)

    assert (await communicator.receive_json_from())["code"] == "not_found"


async def test_a_stream_with_nothing_to_say_for_a_while_stays_open(job, user):
    # Longer than the channel layer's blocking read of 5 s, which must not be
    # taken for a dead Redis.
    communicator, _ = await _connect("/ws/jobs/", user=user)
    await communicator.receive_json_from()

    assert await communicator.receive_nothing(timeout=7)
    await sync_to_async(_set)(job, processed_items=2)
    await sync_to_async(events.job_changed)(job_id=str(job.pk), owner_id=user.pk, force=True)
    update = await communicator.receive_json_from(timeout=3)

    assert update["job"]["processed_items"] == 2
    await communicator.disconnect()


async def test_followers_told_of_the_same_change_share_one_read(job):
    reads = SharedReads()
    job_id = str(job.pk)

    first, second = await asyncio.gather(
        reads.read(job_id, after=reads.arrived("change-1")),
        reads.read(job_id, after=reads.arrived("change-1")),
    )
    late = await reads.read(job_id, after=reads.arrived("change-1"))

    assert first is second is late


async def test_a_read_from_before_a_change_arrived_is_not_shared(job):
    reads = SharedReads()
    job_id = str(job.pk)
    before = await reads.read(job_id, after=reads.arrived("change-1"))

    await sync_to_async(_set)(job, processed_items=3)
    after = await reads.read(job_id, after=reads.arrived("change-2"))

    assert before is not None
    assert after is not None
    assert (before[2]["processed_items"], after[2]["processed_items"]) == (0, 3)


async def test_every_follower_of_a_job_gets_each_change(job, user):
    followers = [(await _connect(f"/ws/jobs/{job.pk}/", user=user))[0] for _ in range(3)]
    for communicator in followers:
        await communicator.receive_json_from()

    await sync_to_async(_set)(job, processed_items=4, succeeded_items=4)
    await sync_to_async(events.job_changed)(job_id=str(job.pk), owner_id=user.pk, force=True)
    progress = [await c.receive_json_from(timeout=3) for c in followers]

    assert [p["processed_items"] for p in progress] == [4, 4, 4]
    for communicator in followers:
        await communicator.disconnect()
