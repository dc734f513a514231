"""BULKYARD_WORKER_NICE: a worker's pool processes yield the CPU to the web
processes on a host that runs both (config/celery.py)."""

import os

import pytest

from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


def _pool_priorities(env: dict[str, str], workdir) -> list[int]:
    worker = WorkerProcess(env=env, workdir=workdir, concurrency=2, beat=False)
    worker.start()
    try:
        children = worker.pool_children()
        return [os.getpriority(os.PRIO_PROCESS, pid) for pid in children]
    finally:
        worker.stop()


def test_a_workers_pool_processes_run_at_the_configured_nice_value(worker_env, tmp_path):
    ours = os.getpriority(os.PRIO_PROCESS, 0)

    priorities = _pool_priorities({**worker_env, "BULKYARD_WORKER_NICE": "7"}, tmp_path)

    assert priorities == [min(ours + 7, 19)] * 2


def test_a_worker_lowers_its_priority_by_10_when_not_told(worker_env, tmp_path):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    env = {k: v for k, v in worker_env.items() if k != "BULKYARD_WORKER_NICE"}

    priorities = _pool_priorities(env, tmp_path)

    assert priorities == [min(ours + 10, 19)] * 2


def test_a_nice_value_of_0_leaves_the_workers_priority_as_started(worker_env, tmp_path):
    ours = os.getpriority(os.PRIO_PROCESS, 0)

    priorities = _pool_priorities({**worker_env, "BULKYARD_WORKER_NICE": "0"}, tmp_path)

    assert priorities == [ours] * 2
