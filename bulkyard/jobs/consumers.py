"""WebSocket streams of job state (``/ws/jobs/{id}/`` and ``/ws/jobs/``).

Every message is built from a fresh read of PostgreSQL. Events from the
channel layer only say "look now"; a periodic re-read covers lost events and
the in-memory layer of the embedded default, where workers in other
processes cannot reach the web process. See docs/websocket.md for the
message schema.
"""

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db.models import F, Q
from rest_framework.utils.encoders import JSONEncoder

from bulkyard.jobs.api.serializers import JobSerializer
from bulkyard.jobs.events import job_group, user_group
from bulkyard.jobs.models import JOB_ACTIVE_STATUSES, JOB_FINISHED_STATUSES, Job
from bulkyard.jobs.selectors import masked_params, not_expired

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
FINISHED = {str(status) for status in JOB_FINISHED_STATUSES}
PROGRESS_FIELDS = ("total_items", "processed_items", "succeeded_items", "failed_items")
# What must differ for a job to be sent again on the user stream.
SIGNATURE_FIELDS = ("status", *PROGRESS_FIELDS, "chunks_finished")


def encode_message(content: Any) -> str:
    """A message as JSON text, encoded as the REST API encodes its bodies.

    Serializer data is not plain JSON: DRF leaves some values (the primary key
    of a related object, such as a retry's ``retry_of``, a UUID) for its
    renderer's encoder to turn into text. Messages carry jobs "exactly as
    ``GET /api/v1/jobs/{id}/``", so they go through the same encoder, for every
    field and every message. NaN and infinities are refused, as the API's
    strict JSON refuses them: browsers' ``JSON.parse`` would reject them.
    """
    return json.dumps(content, cls=JSONEncoder, allow_nan=False)


def _job_state(job: Job) -> dict[str, Any]:
    state = dict(JobSerializer(job).data)
    # Streams reach browsers (the admin's too): credentials in params never do.
    state["params"] = masked_params(job)
    return state


@database_sync_to_async
def _read_job(job_id: str) -> tuple[int, bool, dict[str, Any]] | None:
    """A job's owner, whether the owner is active, and its state; None if it is gone."""
    job = (
        Job.objects.filter(not_expired(), pk=job_id)
        .select_related("callback")
        .annotate(owner_active=F("owner__is_active"))
        .first()
    )
    if job is None:
        return None
    return job.owner_id, bool(job.owner_active), _job_state(job)


class SharedReads:
    """Reads of jobs shared by the consumers of one process.

    A change event reaches every follower of the job at once: with 200
    followers, 200 reads and serializations of the same row, a burst of CPU
    that held up every request to the process meanwhile. A read
    that started after the first copy of an event arrived here is fresh for
    every follower told of that event (the change was committed before it was
    published), so they share it, whether it is running or done.
    """

    def __init__(self) -> None:
        self._events: dict[str, float] = {}
        self._latest: dict[str, tuple[float, asyncio.Future[Any]]] = {}

    def arrived(self, event_id: str | None) -> float:
        """When the first copy of this event arrived in the process."""
        now = time.monotonic()
        if event_id is None:  # a publisher that gives no id: read afresh
            return now
        if len(self._events) > 10_000:
            self._events.clear()
        return self._events.setdefault(event_id, now)

    async def read(self, job_id: str, *, after: float) -> tuple[int, bool, dict[str, Any]] | None:
        """The job, from the latest read if it started at ``after`` or later."""
        latest = self._latest.get(job_id)
        if latest is None or latest[0] < after:
            if len(self._latest) > 1000:
                self._forget_older_than(time.monotonic() - 60)
            future = asyncio.ensure_future(_read_job(job_id))
            latest = (time.monotonic(), future)
            self._latest[job_id] = latest
            # A failed read is not handed to later followers.
            future.add_done_callback(lambda done: self._drop_failed(job_id, done))
        result: tuple[int, bool, dict[str, Any]] | None = await asyncio.shield(latest[1])
        return result

    def _drop_failed(self, job_id: str, done: asyncio.Future[Any]) -> None:
        latest = self._latest.get(job_id)
        if latest is not None and latest[1] is done and (done.cancelled() or done.exception()):
            del self._latest[job_id]

    def _forget_older_than(self, moment: float) -> None:
        for job_id, (started, _) in list(self._latest.items()):
            if started < moment:
                del self._latest[job_id]


SHARED_READS = SharedReads()


def _progress_message(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "job.progress",
        "job_id": state["id"],
        "status": state["status"],
        **{field: state[field] for field in PROGRESS_FIELDS},
        **state["progress"],
        "chunks": state["chunks"],
    }


class _FollowingConsumer(AsyncJsonWebsocketConsumer):
    """Shared plumbing: authenticate, subscribe, then re-read on events or polls."""

    group = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed = asyncio.Event()
        self.follower: asyncio.Task[None] | None = None
        self.user_id: int | None = None

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return encode_message(content)

    async def connect(self) -> None:
        # Accept first: close codes only reach the client after the handshake.
        await self.accept()
        try:
            await self._open()
        except Exception:
            # An exception escaping connect ends the ASGI app: the server then
            # drops the socket without a close frame, and clients see 1006 and
            # retry blindly. 1011 says the server failed; a reconnect gets a
            # fresh snapshot, as when the follower fails.
            logger.exception("job stream failed to open; closing it")
            await self.close(code=1011)

    async def _open(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(
                CLOSE_UNAUTHENTICATED,
                "unauthenticated",
                "log in, or connect with ?ticket= from POST /api/v1/ws-ticket/",
            )
            return
        self.user_id = user.pk
        # Staff who may view jobs in the admin follow any job; others their own.
        self.sees_all = await database_sync_to_async(user.has_perm)("bulkyard_jobs.view_job")
        if not await self.start():
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.follower = asyncio.create_task(self._follow())

    async def _refuse(self, code: int, reason: str, message: str) -> None:
        await self.send_json({"type": "error", "code": reason, "message": message})
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.follower is not None:
            self.follower.cancel()
            await asyncio.gather(self.follower, return_exceptions=True)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Clients may send only {"type": "refresh"}; anything unreadable is
        # ignored rather than allowed to end the consumer without cleanup.
        if text_data is None:
            return
        with contextlib.suppress(ValueError, RecursionError):
            await self.receive_json(json.loads(text_data))

    async def job_changed(self, event: dict[str, Any]) -> None:
        self.note_change(event["job_id"])
        self.changed.set()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # {"type": "refresh"} asks for a re-read now; anything else is ignored.
        if isinstance(content, dict) and content.get("type") == "refresh":
            self.changed.set()

    async def _follow(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), settings.BULKYARD_WS_POLL_SECONDS)
                self.changed.clear()
                if not await self.refresh():
                    return
                await asyncio.sleep(settings.BULKYARD_WS_MIN_INTERVAL_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A socket that looks live but never updates is worse than a
            # closed one: clients reconnect and get a fresh snapshot.
            logger.exception("job stream failed; closing it")
            await self.close(code=1011)

    def note_change(self, job_id: str) -> None:
        pass

    async def start(self) -> bool:
        raise NotImplementedError

    async def refresh(self) -> bool:
        """Send what changed; False to stop following."""
        raise NotImplementedError


class JobConsumer(_FollowingConsumer):
    """One job: a snapshot on connect, then progress and status changes, then
    the final state, after which the server closes with 1000."""

    async def start(self) -> bool:
        self.job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        # The oldest start of a read that can serve the next refresh; the
        # snapshot is read afresh.
        self.read_after: float | None = time.monotonic()
        state = await self._read()
        if state is None:
            await self._refuse(CLOSE_NOT_FOUND, "not_found", "no such job")
            return False
        self.group = job_group(self.job_id)
        self.last = state
        await self.send_json({"type": "job.snapshot", "job": state})
        if state["status"] in FINISHED:
            await self._finish(state)
            return False
        return True

    async def job_changed(self, event: dict[str, Any]) -> None:
        arrived = SHARED_READS.arrived(event.get("event_id"))
        self.read_after = max(self.read_after or arrived, arrived)
        await super().job_changed(event)

    async def _read(self) -> dict[str, Any] | None:
        # Told of a change: a read since it arrived. Otherwise (connecting, the
        # periodic re-read, a client's refresh): one started within the
        # minimum interval between messages, which is as fresh as they get.
        after = self.read_after
        if after is None:
            after = time.monotonic() - settings.BULKYARD_WS_MIN_INTERVAL_SECONDS
        self.read_after = None
        read = await SHARED_READS.read(self.job_id, after=after)
        if read is None:
            return None
        owner_id, owner_active, state = read
        # Ownership is checked on every read: no way to follow another's job.
        # A user deactivated while connected stops seeing updates at once.
        if not self.sees_all and (owner_id != self.user_id or not owner_active):
            return None
        return state

    async def refresh(self) -> bool:
        state = await self._read()
        if state is None:
            await self._refuse(CLOSE_NOT_FOUND, "not_found", "the job no longer exists")
            return False
        if state["status"] != self.last["status"]:
            await self.send_json(
                {
                    "type": "job.status",
                    "job_id": self.job_id,
                    "status": state["status"],
                    "previous_status": self.last["status"],
                }
            )
        if any(state[f] != self.last[f] for f in PROGRESS_FIELDS) or (
            state["chunks"] != self.last["chunks"]
        ):
            await self.send_json(_progress_message(state))
        self.last = state
        if state["status"] in FINISHED:
            await self._finish(state)
            return False
        return True

    async def _finish(self, state: dict[str, Any]) -> None:
        await self.send_json({"type": "job.finished", "job": state})
        await self.close(code=1000)


class UserJobsConsumer(_FollowingConsumer):
    """All of the user's jobs: the recent ones on connect, then every job that
    is created or changes, as a whole job."""

    recent = 50
    watch_limit = 500

    async def start(self) -> bool:
        self.group = user_group(self.user_id)
        self.dirty: set[str] = set()
        jobs = await self._read_recent()
        self.active = {job["id"] for job in jobs if job["status"] not in FINISHED}
        self.signatures: dict[str, tuple[Any, ...]] = {
            job["id"]: (
                job["status"],
                *(job[field] for field in PROGRESS_FIELDS),
                job["chunks"]["finished"],
            )
            for job in jobs
        }
        await self.send_json({"type": "jobs.snapshot", "jobs": jobs})
        return True

    def note_change(self, job_id: str) -> None:
        self.dirty.add(job_id)

    @database_sync_to_async
    def _read_recent(self) -> list[dict[str, Any]]:
        jobs = (
            Job.objects.filter(not_expired(), owner_id=self.user_id)
            .select_related("callback")
            .order_by("-created_at")[: self.recent]
        )
        return [_job_state(job) for job in jobs]

    @database_sync_to_async
    def _read_changed(self, ids: set[str]) -> list[dict[str, Any]]:
        """Jobs that are watched, dirty or active and whose counters moved; a
        cheap signature is compared before anything is serialized."""
        candidates = (
            Job.objects.filter(owner_id=self.user_id)
            .filter(Q(pk__in=list(ids)[: self.watch_limit]) | Q(status__in=JOB_ACTIVE_STATUSES))
            .order_by("-created_at")
            .values_list("pk", *SIGNATURE_FIELDS)[: self.watch_limit]
        )
        changed = []
        for pk, *signature in candidates:
            job_id = str(pk)
            if self.signatures.get(job_id) != tuple(signature):
                self.signatures[job_id] = tuple(signature)
                changed.append(pk)
        return [
            _job_state(job) for job in Job.objects.filter(pk__in=changed).select_related("callback")
        ]

    async def refresh(self) -> bool:
        watched = self.active | self.dirty
        self.dirty = set()
        for state in await self._read_changed(watched):
            if state["status"] in FINISHED:
                self.active.discard(state["id"])
            else:
                self.active.add(state["id"])
            await self.send_json({"type": "job.updated", "job": state})
        return True
