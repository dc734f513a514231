"""BULKYARD_WORKER_NICE: a worker's pool processes yield the CPU to the web
processes on a host that runs both (config/celery.py)."""

import os

import pytest

from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_workers_pool_processes_run_at_the_configured_nice_value(worker_env, tmp_path):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    env = {**worker_env, "BULKYARD_WORKER_NICE": "7"}
    worker = WorkerProcess(env=env, workdir=tmp_path, concurrency=2, beat=False)
    worker.start()
    try:
        children = worker.pool_children()
        priorities = [os.getpriority(os.PRIO_PROCESS, pid) for pid in children]
    finally:
        worker.stop()

    assert len(children) == 2
    assert priorities == [min(ours + 7, 19)] * 2
