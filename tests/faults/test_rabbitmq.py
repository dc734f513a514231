"""RabbitMQ as the broker (the original design names Redis or RabbitMQ).

Each test gets a virtual host of its own on the machine's RabbitMQ, so that
no other run's workers take its wake-ups; Redis still serves the cache and
the channel layer.
"""

import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.support.stack import contacts_csv

pytestmark = pytest.mark.faults

ROWS = 10_000


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("RabbitMQ is not installed here: apt-get install rabbitmq-server")
    vhost = f"bulkyard-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def stack_options(rabbitmq_url):
    return {"broker_url": rabbitmq_url, "overrides": {"BULKYARD_CHUNK_LEASE_SECONDS": "8"}}


def _import(stack) -> str:
    return stack.submit_csv(
        contacts_csv(ROWS), kind="data.import", params='{"target": "contacts"}', chunk_size=250
    )


def _assert_exact(stack, job_id) -> None:
    job = stack.wait_job(job_id, timeout=180)
    assert job["status"] == "succeeded", job
    assert (job["processed_items"], job["succeeded_items"]) == (ROWS, ROWS)
    rows = stack.rows("SELECT count(*) AS n, sum(amount) AS total FROM bulkyard_data_contact")[0]
    assert (rows["n"], rows["total"]) == (ROWS, sum(n + 0.5 for n in range(ROWS)))


def test_an_import_runs_end_to_end_with_rabbitmq_as_the_broker(stack):
    stack.start()

    _assert_exact(stack, _import(stack))


def test_an_import_ends_exact_after_the_worker_is_killed_hard_with_rabbitmq(stack):
    stack.start()
    job_id = _import(stack)
    stack.wait_until(
        lambda: stack.job(job_id)["processed_items"] >= 1000, timeout=60, message="start"
    )

    stack.worker.kill_hard()
    stack.worker.start()

    _assert_exact(stack, job_id)
