"""The web server (config/web.py): how many processes serve HTTP, and that
several of them serve the API and the job streams together."""

import asyncio
import json
import subprocess
import sys

import httpx
import pytest
import websockets
from rest_framework.authtoken.models import Token

from config.web import MAX_DEFAULT_PROCESSES, web_processes
from tests.factories import UserFactory
from tests.support import servers
from tests.support.stack import production_env


def test_web_concurrency_wins_when_set():
    assert web_processes(configured=3, cores=16, shared=False) == 3


def test_web_concurrency_is_at_least_one():
    assert web_processes(configured=0, cores=16, shared=True) == 1


def test_one_process_per_core_up_to_the_cap():
    assert web_processes(configured=None, cores=2, shared=True) == 2
    assert web_processes(configured=None, cores=64, shared=True) == MAX_DEFAULT_PROCESSES


def test_one_process_without_a_shared_cache():
    # Throttles and single-use tickets would be kept per process.
    assert web_processes(configured=None, cores=8, shared=False) == 1


@pytest.fixture
def two_web_processes(worker, server_env, tmp_path):
    """``python -m config.web`` as the run command starts it, with two processes."""
    port = servers.free_port()
    env = {**server_env, "WEB_CONCURRENCY": "2", "BULKYARD_PORT": str(port)}
    log = tmp_path / "web.log"
    proc = servers.start([sys.executable, "-m", "config.web"], env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        servers.wait_http(f"{base}/health/", proc=proc, log=log)
        yield base, log
    finally:
        servers.stop(proc)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_web_processes_serve_the_api_and_every_follower_of_a_job(two_web_processes):
    base, log = two_web_processes
    token = Token.objects.create(user=UserFactory()).key
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        items = [{"n": n} for n in range(40)]
        job = client.post(
            "/api/v1/jobs/",
            json={"kind": "test.echo", "items": items, "params": {"sleep_per_item": 0.05}},
        ).json()
        tickets = [client.post("/api/v1/ws-ticket/").json()["ticket"] for _ in range(8)]

    async def follow(ticket: str) -> list[dict]:
        url = job["links"]["websocket"] + f"?ticket={ticket}"
        async with websockets.connect(url, open_timeout=10) as socket:
            return [json.loads(raw) async for raw in socket]

    async def followers() -> list[list[dict]]:
        return await asyncio.wait_for(asyncio.gather(*(follow(t) for t in tickets)), 90)

    streams = asyncio.run(followers())

    # Whichever process a follower reached, the worker's events got to it.
    assert all(stream[-1]["type"] == "job.finished" for stream in streams)
    assert all(stream[-1]["job"]["processed_items"] == 40 for stream in streams)
    assert log.read_text().count("Started server process") == 2
    assert "Traceback" not in log.read_text()


@pytest.fixture
def one_web_process(server_env, tmp_path):
    port = servers.free_port()
    env = {**server_env, "WEB_CONCURRENCY": "1", "BULKYARD_PORT": str(port)}
    env.pop("DJANGO_BEHIND_TLS_PROXY", None)
    log = tmp_path / "web.log"
    proc = servers.start([sys.executable, "-m", "config.web"], env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        servers.wait_http(f"{base}/health/", proc=proc, log=log)
        yield base
    finally:
        servers.stop(proc)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_client_cannot_choose_its_address_with_x_forwarded_for(one_web_process, settings):
    # Each failure claims another address; all of them are the connection's,
    # so the address is locked out and even the right password is refused.
    user = UserFactory()
    with httpx.Client(base_url=one_web_process, timeout=30) as browser:
        browser.get("/accounts/login/")  # the CSRF cookie

        def sign_in(username: str, password: str, forwarded_for: str) -> httpx.Response:
            form = {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            }
            headers = {"X-Forwarded-For": forwarded_for}
            return browser.post("/accounts/login/", data=form, headers=headers)

        for n in range(settings.AXES_FAILURE_LIMIT):
            sign_in(f"nobody-{n}", "wrong-password", f"198.51.100.{n + 1}")
        response = sign_in(user.username, "secret-password-1", "198.51.100.200")

    assert response.status_code == 429


def test_the_web_server_refuses_a_refused_key_before_starting_processes(tmp_path):
    env = production_env(
        BULKYARD_ENV_FILE=str(tmp_path / "no.env"),
        BULKYARD_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SECRET_KEY="",
        WEB_CONCURRENCY="2",
        BULKYARD_PORT=str(servers.free_port()),
    )

    started = subprocess.run(
        [sys.executable, "-m", "config.web"],
        cwd=servers.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert started.returncode == 1
    assert "Refusing to start: DJANGO_SECRET_KEY is empty." in started.stderr
    assert "Traceback" not in started.stderr
