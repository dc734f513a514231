"""How a worker's tasks treat database connections (config/celery.py): kept
from one task to the next as Django keeps them between requests, closed after
a task that failed, met a database error or left one inside a transaction or a
statement."""

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from celery import signals, states
from django.db import ProgrammingError, connection

from bulkyard.jobs.models import ItemResult
from tests.support.jobs import submit_items, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def _max_age(seconds: int) -> Iterator[None]:
    """This process's connection, reopened with this CONN_MAX_AGE."""
    connection.close()
    age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = seconds
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = age


@pytest.fixture
def persistent_connection() -> Iterator[None]:
    """CONN_MAX_AGE=60, as docs/deploy.md advises for workers."""
    with _max_age(60):
        yield


def _backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _task(state: str, *, task: object = None, work: Callable[[], object] = _backend) -> None:
    """What the worker signals around a task doing ``work``, with the task's
    end state."""
    signals.task_prerun.send(sender=None, task_id="t", task=task)
    work()
    signals.task_postrun.send(sender=None, task_id="t", task=task, state=state)


def test_a_task_that_succeeded_leaves_its_connection_to_the_next(persistent_connection):
    before = _backend()

    _task(states.SUCCESS)

    assert _backend() == before


def test_a_task_that_failed_closes_its_connection(persistent_connection):
    before = _backend()

    _task(states.FAILURE)

    assert _backend() != before


def _open_a_transaction() -> None:
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")  # as a task interrupted inside an atomic block would


def _query_interrupted_by_a_signal() -> None:
    """A soft time limit raises from a signal handler in the middle of a query;
    chunk_run catches it and the task still ends in SUCCESS."""

    def soft_time_limit(*_: object) -> None:
        raise TimeoutError("soft time limit")

    previous = signal.signal(signal.SIGALRM, soft_time_limit)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(TimeoutError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _query_with_a_database_error() -> None:
    with pytest.raises(ProgrammingError), connection.cursor() as cursor:
        cursor.execute("SELEC 1")


def test_a_task_that_left_a_transaction_open_closes_its_connection(persistent_connection):
    before = _backend()

    _task(states.SUCCESS, work=_open_a_transaction)

    assert _backend() != before


def test_a_task_whose_query_was_interrupted_closes_its_connection(persistent_connection):
    before = _backend()

    _task(states.SUCCESS, work=_query_interrupted_by_a_signal)

    assert _backend() != before


def test_a_task_that_met_a_database_error_closes_its_connection(persistent_connection):
    before = _backend()

    _task(states.SUCCESS, work=_query_with_a_database_error)

    assert _backend() != before


def test_without_conn_max_age_every_task_gets_a_new_connection():
    with _max_age(0):
        before = _backend()

        _task(states.SUCCESS)

        assert _backend() != before


@pytest.mark.integration
def test_the_worker_serves_a_jobs_chunks_from_one_connection_per_pool_process(api_client, worker):
    job = submit_items(api_client, [{"n": n} for n in range(80)], params={"backend_pid": True})

    done = wait_for_job(job["id"])

    assert done.chunks_total == 8
    backends = {r.output["backend_pid"] for r in ItemResult.objects.filter(job=done)}
    # One per chunk without reuse; at most two per pool process with it (the
    # fixup renews connections every CELERY_DB_REUSE_MAX tasks).
    assert len(backends) <= 2 * worker.concurrency


@pytest.mark.django_db(transaction=False)
def test_an_eager_task_leaves_the_callers_connection_and_transaction_alone():
    eager = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    before = _backend()

    _task(states.FAILURE, task=eager)

    assert connection.in_atomic_block
    assert _backend() == before
