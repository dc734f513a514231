"""The staff dashboard (decision 0026): what its queries cost on a big chunks
table, with and without the ``chunk_finished`` index.

What is measured (one run, one machine, in this process: no worker, no Redis)
    ``--chunks`` chunks (100,000; run again with 1,000,000), in jobs of 10,000,
    finished evenly over the last ``--days`` (7) — so the last hour holds about
    1/168 of them — save 1 % pending and 0.5 % running; one in ten finished
    chunks has a failed item (three codes), and every finished chunk two succeeded
    ones (kinds that store an output per item). Then each of the dashboard's readers
    (bulkyard/jobs/dashboard.py) is run ``--repeat`` (7) times and its median
    printed in ms: chunks per queue, throughput by minute, failures by code, and
    the whole page's reads together. Then the same without the index
    (``DROP INDEX chunk_finished``), to show what it is for.

Set-up: its own throwaway PostgreSQL database ``bulkyard_bench_dashboard`` (dropped
and created afresh), removed at the end unless ``--keep``.

Run from the repository root::

    .venv/bin/python bench/dashboard.py [--chunks N] [--days N] [--repeat N] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

DB_NAME = "bulkyard_bench_dashboard"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO_ROOT = Path(__file__).resolve().parent.parent
CHUNKS_PER_JOB = 10_000


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(scratch: Path) -> None:
    os.environ.update(
        {
            "BULKYARD_ENV_FILE": str(scratch / "no.env"),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "BULKYARD_VAR_DIR": str(scratch / "var"),
            "DJANGO_MEDIA_ROOT": str(scratch / "media"),
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _sql(sql: str, params: Any = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _fill(chunks: int, days: int) -> float:
    """Jobs, chunks and item results; returns the seconds it took."""
    from django.contrib.auth.models import User

    started = time.perf_counter()
    owner = User.objects.create(username="bench").pk
    jobs = [str(uuid.uuid4()) for _ in range(max(chunks // CHUNKS_PER_JOB, 1))]
    for job_id in jobs:
        _sql(
            "INSERT INTO bulkyard_jobs_job (id, owner_id, kind, params, status, input_file, "
            "input_format, input_name, input_size, input_compression, chunk_size, "
            "processed_items, succeeded_items, failed_items, chunks_finished, created_at, "
            "step_attempts, request_fingerprint, error_code, error_message, "
            "output_file, priority, time_paused) VALUES (%s, %s, 'test.echo', '{}', "
            "'running', '', 'jsonl', '', 0, '', 100, 0, 0, 0, 0, now(), 0, '', '', '', '', "
            "'normal', interval '0')",
            [job_id, owner],
        )
    span = days * 86400.0
    # g's position in the run sets its status and when it finished: evenly
    # over the days, the newest last.
    _sql(
        "INSERT INTO bulkyard_jobs_chunk (job_id, sequence, byte_start, byte_end, start_line, "
        "first_item_number, item_count, pass_number, status, queue, available_at, attempts, "
        "processed_items, succeeded_items, failed_items, error_message, finished_at) "
        "SELECT (%s::uuid[])[1 + g %% %s], g, 0, 0, 1, g * 100 + 1, 100, 1, "
        "CASE WHEN g %% 100 = 0 THEN 'pending' WHEN g %% 200 = 1 THEN 'running' "
        "ELSE 'done' END, CASE WHEN g %% 3 = 0 THEN 'bulkyard.cpu' ELSE 'bulkyard.io' END, "
        "now(), 1, 100, 100 - (g %% 10 = 2)::int, (g %% 10 = 2)::int, '', "
        "CASE WHEN g %% 100 = 0 OR g %% 200 = 1 THEN NULL "
        "ELSE now() - make_interval(secs => %s * (1 - g::float / %s)) END "
        "FROM generate_series(0, %s - 1) AS g",
        [jobs, len(jobs), span, chunks, chunks],
    )
    _sql(
        "INSERT INTO bulkyard_jobs_itemresult (job_id, chunk_id, item_number, outcome, code, "
        "message, input, output) "
        "SELECT c.job_id, c.id, c.first_item_number + n, "
        "CASE WHEN n = 0 AND c.failed_items = 1 THEN 'failed' ELSE 'succeeded' END, "
        "CASE WHEN n = 0 AND c.failed_items = 1 "
        "THEN (ARRAY['timeout', 'bad_address', 'rejected'])[1 + c.sequence % 3] ELSE '' END, "
        "'', NULL, '{\"ok\": true}' "
        "FROM bulkyard_jobs_chunk c CROSS JOIN generate_series(0, 2) AS n "
        "WHERE c.finished_at IS NOT NULL"
    )
    _sql("ANALYZE")
    return time.perf_counter() - started


def _median_ms(read: Callable[[], Any], repeat: int) -> float:
    read()  # warm: the plan and the pages
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _measure(repeat: int) -> dict[str, float]:
    from bulkyard.jobs import dashboard

    def page() -> None:
        dashboard.queue_loads()
        dashboard.throughput_by_minute()
        dashboard.failures_by_code()

    return {
        "chunks per queue": _median_ms(dashboard.queue_loads, repeat),
        "throughput by minute": _median_ms(dashboard.throughput_by_minute, repeat),
        "failures by code": _median_ms(dashboard.failures_by_code, repeat),
        "the page's reads": _median_ms(page, repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DB_NAME}")
    scratch = Path(tempfile.mkdtemp(prefix="bulkyard-bench-dashboard-"))
    try:
        _setup_django(scratch)
        from bulkyard.jobs import dashboard

        filled = _fill(args.chunks, args.days)
        hour = sum(m.chunks for m in dashboard.throughput_by_minute())
        print(f"{args.chunks:,} chunks over {args.days} days written in {filled:.1f} s")
        print(f"the last hour: {hour:,} finished chunks\n")
        with_index = _measure(args.repeat)
        _sql("DROP INDEX chunk_finished")
        _sql("ANALYZE bulkyard_jobs_chunk")
        without = _measure(args.repeat)
        print(f"{'median ms':<24}{'with index':>12}{'without':>12}")
        for name, ms in with_index.items():
            print(f"{name:<24}{ms:>12.1f}{without[name]:>12.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
