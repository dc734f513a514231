import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg.errors
import pytest
import redis
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import OperationalError, connection
from django.db.backends.base.operations import BaseDatabaseOperations
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bulkyard.core import mail_server
from tests.factories import UserFactory
from tests.support import s3, servers
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.support.http import Canary, HttpTestServer
from tests.support.kinds import LEDGER_TABLE
from tests.support.private import PrivatePostgres
from tests.support.smtp import RecordingHandler, SmtpServer
from tests.support.stack import migrated_cluster
from tests.support.worker import WorkerProcess


def _client_for(user: object) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client(user) -> APIClient:
    return _client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return _client_for(other_user)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Before the test database is dropped, end sessions that threads of the
    ASGI app or child processes left open, or the drop would fail."""
    yield
    if not str(connection.settings_dict["NAME"]).startswith("test_bulkyard_"):
        return  # no test used the database
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session", autouse=True)
def _flush_retries_on_deadlock() -> Iterator[None]:
    """Retry the database flush that ends each transactional test when
    PostgreSQL picks it as a deadlock victim.

    The test worker runs the sweeper every second; one of its statements
    joins chunks and jobs, and a TRUNCATE of every table taking its locks at
    that moment can deadlock with it. Nothing of the test is wrong then, and
    the flush succeeds once the sweep's statement is done.
    """
    flush = BaseDatabaseOperations.execute_sql_flush

    def flush_with_retries(self: BaseDatabaseOperations, sql_list: Iterable[str]) -> None:
        statements, attempts = list(sql_list), 5
        for attempt in range(1, attempts + 1):
            try:
                flush(self, statements)
                return
            except OperationalError as error:
                deadlock = isinstance(error.__cause__, psycopg.errors.DeadlockDetected)
                if not deadlock or attempt == attempts:
                    raise

    BaseDatabaseOperations.execute_sql_flush = flush_with_retries  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _metrics_folder_removed() -> Iterator[None]:
    """The run's metrics folder (config/settings/test.py) goes with the run."""
    yield
    folder = Path(settings.PROMETHEUS_MULTIPROC_DIR)
    if folder.name.startswith("bulkyard-test-metrics-") and folder.name.endswith(f"-{os.getpid()}"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def _session_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_port(_session_smtp, settings) -> int:
    """This process sends mail over SMTP to the test server (pytest-django
    otherwise swaps in the in-memory backend); its port."""
    settings.EMAIL_BACKEND = mail_server.SMTP_BACKEND
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _session_smtp.port
    mail_server._cached = None
    return _session_smtp.port


@pytest.fixture
def closed_smtp_port(settings) -> int:
    """As ``smtp_port``, but to a loopback port nothing listens on."""
    port = servers.free_port()
    settings.EMAIL_BACKEND = mail_server.SMTP_BACKEND
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    mail_server._cached = None
    return port


@pytest.fixture
def smtp(_session_smtp) -> RecordingHandler:
    """The SMTP server the worker sends to, emptied and with default answers."""
    _session_smtp.handler.reset()
    return _session_smtp.handler


@pytest.fixture(scope="session")
def _session_http() -> Iterator[HttpTestServer]:
    server = HttpTestServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _session_canary() -> Iterator[Canary]:
    canary = Canary()
    canary.start()
    yield canary
    canary.stop()


@pytest.fixture
def http_server(_session_http, settings) -> HttpTestServer:
    """The HTTP server outbound calls go to, allow-listed (only its port of
    127.0.0.1) in the worker and in this process; emptied for each test."""
    settings.BULKYARD_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{_session_http.port}"]
    _session_http.reset()
    return _session_http


@pytest.fixture
def canary(_session_canary) -> Canary:
    """A listener on loopback that no request may reach."""
    _session_canary.connections = 0
    return _session_canary


@pytest.fixture(scope="session")
def worker_env(
    django_db_setup, django_db_blocker, tmp_path_factory, _session_smtp, _session_http
) -> dict[str, str]:
    """Environment for processes that must share this test run's database,
    broker and media folder."""
    db = settings.DATABASES["default"]
    media = tmp_path_factory.mktemp("shared-media")
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} "
            "(id bigserial PRIMARY KEY, job_id uuid NOT NULL, item_number bigint NOT NULL)"
        )
    server = redis.Redis.from_url(settings.REDIS_URL)
    for key in server.scan_iter(f"{settings.BULKYARD_REDIS_PREFIX}*"):
        server.delete(key)
    user = db.get("USER") or "postgres"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{user}@{host}:{port}/{db['NAME']}",
        "DJANGO_MEDIA_ROOT": str(media),
        # As docs/deploy.md advises for workers: connections kept between tasks.
        "DATABASE_CONN_MAX_AGE": "60",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(_session_smtp.port),
        "BULKYARD_HTTP_ALLOWED_HOSTS": f"127.0.0.1:{_session_http.port}",
        # As docs/observability.md advises for deployments: one JSON object a line.
        "LOG_FORMAT": "json",
    }


@pytest.fixture(scope="session")
def _session_worker(worker_env, tmp_path_factory) -> Iterator[WorkerProcess]:
    workdir = tmp_path_factory.mktemp("worker")
    process = WorkerProcess(env=worker_env, workdir=workdir)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def worker(_session_worker, worker_env, settings) -> WorkerProcess:
    """A running Celery worker process (restarted if a test killed it). Uploads
    of the test go where the worker reads them."""
    settings.MEDIA_ROOT = worker_env["DJANGO_MEDIA_ROOT"]
    proc = _session_worker.proc
    if proc is None or proc.poll() is not None:
        _session_worker.start()
    return _session_worker


@pytest.fixture
def server_env(worker_env) -> dict[str, str]:
    """The environment of the ASGI server; tests may change it before use."""
    return dict(worker_env)


@pytest.fixture
def asgi_server(worker, server_env, tmp_path) -> Iterator[str]:
    """The ASGI app under uvicorn, on this run's database and broker, with a
    real worker behind it. Yields its base URL."""
    with servers.uvicorn_running(env=server_env, log=tmp_path / "uvicorn.log") as base:
        yield base


@pytest.fixture
def browser(monkeypatch):
    """One browser per test: Playwright's sync API holds an event loop on this
    thread while it runs, which must be gone before other (async) tests run."""
    from playwright.sync_api import sync_playwright

    # The test's own database calls are plain sync code between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the tests' own with a migrated template database
    (tests/support/stack.py), for whole deployments apart from this run's."""
    cluster = migrated_cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[s3.S3Server]:
    """moto's S3 server, started on first use and stopped (by its pid) at the end."""
    server = s3.start(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    assert server.proc is not None
    servers.stop(server.proc)


@pytest.fixture
def s3_storage(s3_server, settings) -> Storage:
    """Every file Bulkyard keeps goes to moto's S3, under a prefix of this
    test's own (the storage's ``location``); the storage."""
    s3.use_for_default_storage(settings, s3_server)
    return storages["default"]


@pytest.fixture(params=["local", "s3"])
def any_storage(request) -> Storage:
    """The test runs twice: files on the local folder, then on S3; the storage."""
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    return storages["default"]
