"""Retention (decision 0018): what the purge of expired jobs costs, and how long
its slices hold their locks, against one DELETE of a big job's rows.

What is measured (one run, one machine, in this process: the purge needs no worker)
    1. A big expired job with ``--results`` item results (1,000,000) in 100 chunks,
       written with ``INSERT … SELECT generate_series``. ``jobs_purge`` deletes it with
       the settings' slice (``BULKYARD_RETENTION_BATCH_ROWS``, 5,000): printed are its
       wall time, rows per second, the number of slices and their duration (median,
       p95, max: the longest any slice held its row locks).
    2. The same job written again and deleted the way a purge without slices would:
       ``DELETE FROM bulkyard_jobs_itemresult WHERE job_id = …`` in one statement,
       timed (how long that transaction holds the locks of a million rows).
    3. ``--jobs`` (10,000) small expired jobs of 10 results each, each with a small
       input file in the storage folder: ``jobs_purge`` deletes them; jobs, files and
       rows per second.
    4. The migration's backfill (``0014_retention_backfill``): ``--backfill-jobs``
       (1,000,000) finished jobs without an expiry, then its batches, timed.
    A table of checks ends the run: the longest slice under 1 s (the purge never
    holds locks for long), and the sliced purge of the big job within 3x the time of
    the single DELETE. The exit status is 0 whatever the verdict.

Set-up: its own throwaway PostgreSQL database ``bulkyard_bench_retention`` (dropped and
created afresh; not ``_support``'s ``bulkyard_bench``, so that it can run beside another
bench) and a scratch media folder, both removed at the end unless ``--keep``. No Redis.

Run from the repository root::

    .venv/bin/python bench/retention.py [--results N] [--jobs N] [--backfill-jobs N]
        [--batch-rows N] [--keep]
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

DB_NAME = "bulkyard_bench_retention"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(scratch: Path, batch_rows: int) -> None:
    os.environ.update(
        {
            "BULKYARD_ENV_FILE": str(scratch / "no.env"),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "BULKYARD_VAR_DIR": str(scratch / "var"),
            "DJANGO_MEDIA_ROOT": str(scratch / "media"),
            "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
            "DJANGO_DEBUG": "true",
            "BULKYARD_RETENTION_BATCH_ROWS": str(batch_rows),
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


def _user_id() -> int:
    from django.contrib.auth.models import User

    return User.objects.get_or_create(username="bench")[0].pk


def _expired_job(owner: int, *, results: int, chunks: int, input_name: str = "") -> str:
    """A finished job that expired an hour ago, with its chunks and results."""
    job_id = str(uuid.uuid4())
    _sql(
        "INSERT INTO bulkyard_jobs_job (id, owner_id, kind, params, status, input_file, "
        "input_format, input_name, input_size, input_compression, chunk_size, "
        "processed_items, succeeded_items, failed_items, chunks_finished, created_at, "
        "finished_at, step_attempts, request_fingerprint, error_code, error_message, "
        "output_file, priority, time_paused, retention_days, expires_at) VALUES (%s, %s, "
        "'test.echo', "
        "'{}', 'succeeded', %s, 'jsonl', '', 0, '', 10, 0, 0, 0, 0, now(), now() - "
        "interval '31 days', 0, '', '', '', '', 'normal', interval '0', 30, "
        "now() - interval '1 hour')",
        [job_id, owner, input_name],
    )
    per_chunk = max(results // chunks, 1)
    _sql(
        "INSERT INTO bulkyard_jobs_chunk (job_id, sequence, byte_start, byte_end, start_line, "
        "first_item_number, item_count, pass_number, status, queue, available_at, attempts, "
        "processed_items, succeeded_items, failed_items, error_message) "
        "SELECT %s, s, 0, 0, 1, s * %s + 1, %s, 1, 'done', 'bulkyard.io', now(), 1, 0, 0, 0, '' "
        "FROM generate_series(0, %s - 1) AS s",
        [job_id, per_chunk, per_chunk, chunks],
    )
    _sql(
        "INSERT INTO bulkyard_jobs_itemresult (job_id, chunk_id, item_number, outcome, code, "
        "message, input, output) "
        "SELECT %s, c.id, n, 'succeeded', '', '', '{\"n\": 1}', '{\"words\": 12, \"chars\": 80}' "
        "FROM generate_series(1, %s) AS n JOIN bulkyard_jobs_chunk c "
        "ON c.job_id = %s AND c.sequence = (n - 1) / %s",
        [job_id, results, job_id, per_chunk],
    )
    _sql("ANALYZE bulkyard_jobs_itemresult")
    return job_id


def _measure_big(owner: int, results: int) -> dict[str, Any]:
    from bulkyard.jobs.services import jobs_purge, retention

    _expired_job(owner, results=results, chunks=100)
    slices: list[float] = []
    slowest = (0.0, "")
    original = retention._delete_rows

    def timed(rows: Any) -> int:
        nonlocal slowest
        started = time.perf_counter()
        try:
            return original(rows)
        finally:
            slices.append(time.perf_counter() - started)
            slowest = max(slowest, (slices[-1], rows.model._meta.label))

    retention._delete_rows = timed
    started = time.perf_counter()
    report = jobs_purge()
    seconds = time.perf_counter() - started
    retention._delete_rows = original
    assert report.jobs == 1, report
    ordered = sorted(slices)
    figures = {
        "seconds": seconds,
        "rows_per_second": results / seconds,
        "slices": len(slices),
        "slice_median": statistics.median(slices),
        "slice_p95": ordered[int(len(ordered) * 0.95) - 1],
        "slice_max": ordered[-1],
        "slice_max_model": slowest[1],
    }
    job_id = _expired_job(owner, results=results, chunks=100)
    started = time.perf_counter()
    _sql("DELETE FROM bulkyard_jobs_itemresult WHERE job_id = %s", [job_id])
    figures["single_delete"] = time.perf_counter() - started
    jobs_purge()
    return figures


def _measure_small(owner: int, jobs: int) -> dict[str, float]:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from bulkyard.jobs.services import jobs_purge

    for n in range(jobs):
        name = default_storage.save(f"jobs/{owner}/inputs/small-{n}.jsonl", ContentFile(b"{}\n"))
        _small_expired_job(owner, name)
    _sql("ANALYZE")
    started = time.perf_counter()
    report = jobs_purge()
    seconds = time.perf_counter() - started
    assert report.jobs == jobs, report
    return {
        "seconds": seconds,
        "jobs_per_second": jobs / seconds,
        "files": report.files,
        "rows": sum(report.rows.values()),
    }


def _small_expired_job(owner: int, input_name: str) -> None:
    # As _expired_job with 10 results in one chunk, in two statements.
    job_id = str(uuid.uuid4())
    _sql(
        "INSERT INTO bulkyard_jobs_job (id, owner_id, kind, params, status, input_file, "
        "input_format, input_name, input_size, input_compression, chunk_size, "
        "processed_items, succeeded_items, failed_items, chunks_finished, created_at, "
        "finished_at, step_attempts, request_fingerprint, error_code, error_message, "
        "output_file, priority, time_paused, retention_days, expires_at) VALUES (%s, %s, "
        "'test.echo', "
        "'{}', 'succeeded', %s, 'jsonl', '', 0, '', 10, 0, 0, 0, 0, now(), now() - "
        "interval '31 days', 0, '', '', '', '', 'normal', interval '0', 30, "
        "now() - interval '1 hour')",
        [job_id, owner, input_name],
    )
    _sql(
        "WITH c AS (INSERT INTO bulkyard_jobs_chunk (job_id, sequence, byte_start, byte_end, "
        "start_line, first_item_number, item_count, pass_number, status, queue, available_at, "
        "attempts, processed_items, succeeded_items, failed_items, error_message) VALUES "
        "(%s, 0, 0, 0, 1, 1, 10, 1, 'done', 'bulkyard.io', now(), 1, 0, 0, 0, '') RETURNING id) "
        "INSERT INTO bulkyard_jobs_itemresult (job_id, chunk_id, item_number, outcome, code, "
        "message, input, output) SELECT %s, c.id, n, 'succeeded', '', '', '{}', '{}' "
        "FROM c, generate_series(1, 10) AS n",
        [job_id, job_id],
    )


def _measure_backfill(owner: int, jobs: int) -> dict[str, float]:
    from django.apps import apps

    _sql(
        "INSERT INTO bulkyard_jobs_job (id, owner_id, kind, params, status, input_file, "
        "input_format, input_name, input_size, input_compression, chunk_size, "
        "processed_items, succeeded_items, failed_items, chunks_finished, created_at, "
        "finished_at, step_attempts, request_fingerprint, error_code, error_message, "
        "output_file, priority, time_paused) SELECT gen_random_uuid(), %s, 'test.echo', '{}', "
        "'succeeded', '', 'jsonl', '', 0, '', 10, 0, 0, 0, 0, now(), "
        "now() - n * interval '1 second', 0, '', '', '', '', 'normal', interval '0' "
        "FROM generate_series(1, %s) AS n",
        [owner, jobs],
    )
    _sql("VACUUM ANALYZE bulkyard_jobs_job")
    migration = importlib.import_module("bulkyard.jobs.migrations.0014_retention_backfill")
    started = time.perf_counter()
    migration._retention_of_existing_jobs(apps, None)
    seconds = time.perf_counter() - started
    batches = -(-jobs // migration.BATCH)
    return {"seconds": seconds, "batches": batches, "per_batch": seconds / batches}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--backfill-jobs", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bulkyard-bench-retention-"))
    _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DB_NAME}")
    try:
        _setup_django(scratch, args.batch_rows)
        owner = _user_id()
        big = _measure_big(owner, args.results)
        print(
            f"big job, {args.results:,} results, slices of {args.batch_rows:,}: purged in "
            f"{big['seconds']:.2f} s ({big['rows_per_second']:,.0f} rows/s), "
            f"{big['slices']:.0f} slices: median {big['slice_median'] * 1000:.1f} ms, "
            f"p95 {big['slice_p95'] * 1000:.1f} ms, max {big['slice_max'] * 1000:.1f} ms "
            f"({big['slice_max_model']})"
        )
        print(f"  one DELETE of the same rows: {big['single_delete']:.2f} s in one transaction")
        small = _measure_small(owner, args.jobs)
        print(
            f"{args.jobs:,} small jobs (10 results, 1 file each): purged in "
            f"{small['seconds']:.2f} s ({small['jobs_per_second']:,.0f} jobs/s, "
            f"{small['files']:.0f} files, {small['rows']:,.0f} rows)"
        )
        backfill = _measure_backfill(owner, args.backfill_jobs)
        print(
            f"migration backfill of {args.backfill_jobs:,} finished jobs: "
            f"{backfill['seconds']:.2f} s in {backfill['batches']:.0f} transactions "
            f"({backfill['per_batch'] * 1000:.0f} ms each on average)"
        )
        checks = [
            ("longest slice < 1 s", big["slice_max"] < 1.0),
            ("sliced purge within 3x one DELETE", big["seconds"] < 3 * big["single_delete"]),
        ]
        for name, passed in checks:
            print(f"  {'PASS' if passed else 'FAIL'}  {name}")
        print("PASS" if all(passed for _, passed in checks) else "FAIL")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
