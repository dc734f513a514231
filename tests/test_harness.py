"""The test suite's own machinery, where it guards against a real race."""

import re
import threading
import time

import psycopg
import pytest
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import connection
from psycopg import sql

pytestmark = pytest.mark.django_db(transaction=True)


def _dsn() -> str:
    db = connection.settings_dict
    return (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} "
        f"user={db['USER'] or 'postgres'} dbname={db['NAME']}"
    )


def _lock_last_then_read_first(
    tables: list[str], ready: threading.Event, outcome: dict[str, str]
) -> None:
    """What a sweep statement joining two tables does to a flush: hold the
    table the TRUNCATE locks last, wait until the flush queues behind it (it
    holds every other table by then), then read the one it locked first."""
    first, last = tables[0], tables[-1]
    with psycopg.connect(_dsn()) as session, psycopg.connect(_dsn(), autocommit=True) as probe:
        session.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(last)))
        ready.set()
        deadline = time.monotonic() + 20
        while not probe.execute(
            "SELECT 1 FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [last]
        ).fetchone():
            if time.monotonic() > deadline:
                outcome["error"] = f"the flush never waited for {last}"
                return
            time.sleep(0.02)
        session.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(first)))
        outcome["deadlocked_on"] = first


def test_a_flush_chosen_as_deadlock_victim_is_retried_and_empties_the_tables(user):
    statements = sql_flush(no_style(), connection)
    tables = re.findall(r'"([^"]+)"', statements[0])
    ready, outcome = threading.Event(), {}
    other = threading.Thread(target=_lock_last_then_read_first, args=(tables, ready, outcome))
    other.start()
    assert ready.wait(10)

    connection.ops.execute_sql_flush(statements)
    other.join(30)

    assert "deadlocked_on" in outcome, outcome
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth_user")
        assert cursor.fetchone() == (0,)
