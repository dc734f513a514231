"""How processes connect to PostgreSQL: the web (ASGI) process from psycopg's
pool, everything else with Django's own connections. Each case runs in a fresh
interpreter, since the choice is made when the settings load."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.support.servers import ROOT
from tests.support.stack import production_env

pytestmark = pytest.mark.django_db

# Six queries, the connection closed after each as Django does after a
# request: how many PostgreSQL backends (pids) served them.
SIX_REQUESTS = """
import django
{setup}
from django.db import connection
pids = set()
for _ in range(6):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.add(cursor.fetchone()[0])
    connection.close()
print(connection.pool is not None, len(pids))
"""
ASGI = "import config.asgi"
PLAIN = "django.setup()"


def _pool_and_backends(setup: str, **env: str) -> tuple[bool, int]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db.get('USER') or 'postgres'}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    environment = {
        # This test process may have imported config.asgi, which marks itself.
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_POOL", "BULKYARD_SERVER")},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "BULKYARD_ENV_FILE": os.devnull,
        "DATABASE_URL": url,
        **env,
    }
    output = subprocess.run(
        [sys.executable, "-c", SIX_REQUESTS.format(setup=setup)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return output[0] == "True", int(output[1])


def test_the_web_process_reuses_connections_from_a_pool():
    pooled, backends = _pool_and_backends(ASGI)

    assert pooled
    assert backends <= 2  # the pool keeps one or two connections warm


def test_the_web_process_pool_can_be_turned_off():
    assert _pool_and_backends(ASGI, DATABASE_POOL="false") == (False, 6)


def test_other_processes_open_their_own_connections():
    assert _pool_and_backends(PLAIN) == (False, 6)


def test_a_pool_overrides_persistent_connections_which_django_refuses_beside_it():
    pooled, backends = _pool_and_backends(ASGI, DATABASE_CONN_MAX_AGE="60")

    assert pooled
    assert backends <= 2


def test_a_start_with_the_placeholder_database_password_is_refused(tmp_path):
    env = production_env(
        BULKYARD_ENV_FILE=str(tmp_path / "no.env"),
        BULKYARD_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL="postgres://celery_project:change-me@127.0.0.1:5432/celery_project",
    )

    started = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert started.returncode != 0
    assert "set POSTGRES_PASSWORD" in started.stderr
