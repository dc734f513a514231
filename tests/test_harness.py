"""The test suite's own machinery, where it guards against a real race."""

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


def _lock_chunks_then_read_what_the_flush_holds(ready: threading.Event, outcome: dict) -> None:
    """Hold a lock on the chunk table, as a sweep statement does, wait for the
    flush to queue behind it, then read a table the flush already locked."""
    with psycopg.connect(_dsn()) as session, psycopg.connect(_dsn(), autocommit=True) as probe:
        session.execute("SELECT 1 FROM bulkyard_jobs_chunk LIMIT 1")
        ready.set()
        deadline = time.monotonic() + 20
        held = None
        while held is None and time.monotonic() < deadline:
            held = probe.execute(
                "SELECT relname FROM pg_locks waiting "
                "JOIN pg_locks held ON held.pid = waiting.pid "
                "JOIN pg_class ON pg_class.oid = held.relation AND relkind = 'r' "
                "WHERE waiting.relation = 'bulkyard_jobs_chunk'::regclass AND NOT waiting.granted "
                "AND held.granted AND held.mode = 'AccessExclusiveLock' LIMIT 1"
            ).fetchone()
            time.sleep(0.02)
        if held is None:
            outcome["error"] = "the flush never waited for the chunk table"
            return
        session.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(held[0])))
        outcome["deadlocked_on"] = held[0]


def test_a_flush_chosen_as_deadlock_victim_is_retried_and_empties_the_tables(user):
    ready, outcome = threading.Event(), {}
    other = threading.Thread(
        target=_lock_chunks_then_read_what_the_flush_holds, args=(ready, outcome)
    )
    other.start()
    assert ready.wait(10)

    connection.ops.execute_sql_flush(sql_flush(no_style(), connection))
    other.join(30)

    assert "deadlocked_on" in outcome, outcome
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth_user")
        assert cursor.fetchone() == (0,)
