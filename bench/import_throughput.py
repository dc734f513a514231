"""Throughput of ``data.import``: rows/second upserting a contacts CSV, end to end and
against baselines.

What is measured (one run, one machine)
    1. End to end, N rows (default 1,000,000; ``email,name,age,city,amount``, unique
       ``email``) into an empty ``bulkyard_data_contact``: from starting the multipart
       ``POST /api/v1/jobs/`` (``kind=data.import``, ``target=contacts``, ``chunk_size``
       50,000) until polling ``GET <job url>`` every 0.2 s sees a final status, through
       uvicorn and a real Celery worker (prefork, concurrency 2). Also the job's own
       duration (``finished_at - started_at``: planned until finalized). The job must
       succeed with exactly N rows, and the table must hold N rows.
    2. Peak RSS of the worker while it runs that job: the main process and each pool
       child, sampled every 0.2 s from ``/proc``.
    3. Ceiling: psycopg alone, one transaction: the csv module parses the file, ``COPY``
       into a temporary staging table, one ``INSERT ... SELECT ... ON CONFLICT (owner_id,
       email) DO UPDATE`` (the contacts are the bench user's, as the job's are). Run into
       the empty table (the ceiling the others are compared with), then again on the full
       table (the update path, reported only).
    4. Django ``bulk_create(update_conflicts=True)`` in batches of 2,000, all N rows.
    5. django-import-export 4.x (``use_bulk``, ``batch_size`` 2,000, ``skip_diff``) on the
       first 100,000 rows, with ``CachedInstanceLoader`` (the ratio that counts) and with
       the default loader (one query per row; for reference).
    6. End to end again with a bigger file (``--big-rows``, default 10,000,000), to see
       whether the rate holds (ratio to step 1 near 1.0).
    Every timed step starts from an empty table (``TRUNCATE`` and ``CHECKPOINT`` first).
    Then a table of the figures and ratios against their targets, each PASS or FAIL. The
    exit status is 0 whatever the verdicts (1 only when the bench itself breaks).

Set-up and tear-down are ``_support``'s, shared by every bench (throwaway database
``bulkyard_bench``, Redis db 14, a scratch folder, uvicorn and a Celery worker); all are
removed at the end unless ``--keep``.

Run from the repository root (needs the ``bench`` extra for step 5)::

    .venv/bin/pip install -e '.[dev,bench]'
    .venv/bin/python bench/import_throughput.py [--rows N] [--big-rows N|0] [--chunk-size N]
        [--skip-baselines] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    DB_NAME,
    DB_URL,
    FINAL_STATUSES,
    MB,
    SAMPLE_SECONDS,
    RssPeaks,
    RssSampler,
    api_and_worker,
    child_running,
    connect,
    contacts_size_estimate,
    parse_time,
    postmaster_pid,
    scratch_and_database,
    script_figures,
    service_env,
    tree_cpu_seconds,
    write_contacts,
)

TABLE = "bulkyard_data_contact"
COLUMNS = ("email", "name", "age", "city", "amount")
POLL_SECONDS = 0.2
SEED = 20_250_101
BIG_SEED = 20_250_202
IMPORT_EXPORT_ROWS = 100_000
BASELINE_BATCH = 2000

TARGET_CEILING_RATIO = 0.5
TARGET_BULK_CREATE_RATIO = 4.0
TARGET_IMPORT_EXPORT_RATIO = 40.0
TARGET_RSS_MB = 300.0
TARGET_SCALING_RATIO = 0.9  # "no slowdown": the big file keeps at least 90% of the rate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Measure rows/s of the data.import job (HTTP upload to job succeeded, through "
            "uvicorn and a real Celery worker) against raw COPY, Django bulk_create and "
            "django-import-export, plus the worker's peak RSS."
        ),
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in the main file (default 1000000)"
    )
    parser.add_argument(
        "--big-rows",
        type=int,
        default=10_000_000,
        help="rows of the scaling run, end to end only (default 10000000; 0 skips it)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=50_000, help="chunk_size of the jobs (default 50000)"
    )
    parser.add_argument(
        "--skip-baselines",
        action="store_true",
        help="skip the ceiling, bulk_create and django-import-export steps",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the {DB_NAME!r} database and the scratch folder (logs, inputs)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.big_rows < 0:
        parser.error("--big-rows must be 0 (skip) or more")
    if not 1 <= args.chunk_size <= 100_000:
        parser.error("--chunk-size must be between 1 and 100000")
    return args


# --- Database -----------------------------------------------------------------------------


def reset_table() -> None:
    """Empty the target table, and flush dirty buffers so that the next timed step does
    not pay for the writes of the previous one."""
    with connect() as conn:
        conn.execute(f"TRUNCATE {TABLE}")
        conn.execute("CHECKPOINT")


def count_rows() -> int:
    with connect() as conn:
        row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()  # noqa: S608
    assert row is not None
    return int(row[0])


def server_settings() -> str:
    """The PostgreSQL version and the settings that bear on bulk writes."""
    names = ["shared_buffers", "synchronous_commit", "max_wal_size", "work_mem"]
    with connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()
        values = [(name, conn.execute(f"SHOW {name}").fetchone()) for name in names]
    shown = ", ".join(f"{name} {row[0] if row else '?'}" for name, row in values)
    return f"PostgreSQL {version[0] if version else '?'}: {shown}"


# --- End to end ---------------------------------------------------------------------------


@dataclass(slots=True)
class EndToEnd:
    rows: int
    file_bytes: int
    wall_seconds: float
    upload_seconds: float
    job_seconds: float
    planning_seconds: float
    chunks: int
    chunk_mean_seconds: float
    chunk_max_seconds: float
    finalize_seconds: float
    job: dict[str, Any]
    rss: RssPeaks
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.rows / self.wall_seconds

    @property
    def job_rate(self) -> float:
        return self.rows / self.job_seconds


def job_timeline(job_id: str) -> tuple[float, int, float, float, float]:
    """From the database: planning time (created -> started), chunk count, mean and max
    chunk run time (claimed -> committed), and the finish step (finalize claimed ->
    finished)."""
    with connect() as conn:
        job = conn.execute(
            "SELECT extract(epoch FROM started_at - created_at),"
            " extract(epoch FROM finished_at - finalize_started_at)"
            " FROM bulkyard_jobs_job WHERE id = %s",
            [job_id],
        ).fetchone()
        chunks = conn.execute(
            "SELECT count(*), avg(extract(epoch FROM finished_at - started_at)),"
            " max(extract(epoch FROM finished_at - started_at))"
            " FROM bulkyard_jobs_chunk WHERE job_id = %s",
            [job_id],
        ).fetchone()
    assert job is not None
    assert chunks is not None
    return (
        float(job[0] or 0),
        int(chunks[0]),
        float(chunks[1] or 0),
        float(chunks[2] or 0),
        float(job[1] or 0),
    )


def run_end_to_end(
    client: httpx.Client,
    csv_path: Path,
    *,
    rows: int,
    chunk_size: int,
    worker_pid: int,
    pids: dict[str, int],
) -> EndToEnd:
    """Upload ``csv_path`` as a data.import job and wait for its final status."""
    reset_table()
    cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    with RssSampler(worker_pid) as sampler, csv_path.open("rb") as upload:
        started = time.perf_counter()
        response = client.post(
            "/api/v1/jobs/",
            data={
                "kind": "data.import",
                "params": json.dumps({"target": "contacts"}),
                "chunk_size": str(chunk_size),
            },
            files={"file": (csv_path.name, upload, "text/csv")},
        )
        uploaded = time.perf_counter()
        if response.status_code != 202:
            raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
        url = response.json()["url"]
        last_report = started
        while True:
            job = client.get(url).json()
            if job["status"] in FINAL_STATUSES:
                break
            now = time.perf_counter()
            if now - last_report >= 15:
                last_report = now
                print(
                    f"  ... {now - started:6.1f} s  {job['status']:<10s} "
                    f"{job['processed_items']:>11,} / {job['total_items'] or 0:,} rows"
                )
            time.sleep(POLL_SECONDS)
        finished = time.perf_counter()
    cpu = {name: tree_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    if job["status"] != "succeeded" or job["succeeded_items"] != rows or job["failed_items"]:
        raise RuntimeError(
            f"job {job['id']} ended {job['status']} with {job['succeeded_items']} succeeded and "
            f"{job['failed_items']} failed rows (expected {rows:,} succeeded): "
            f"{json.dumps(job, indent=2)}"
        )
    in_table = count_rows()
    if in_table != rows:
        raise RuntimeError(f"{TABLE} holds {in_table:,} rows after the job, expected {rows:,}")
    planning, chunks, chunk_mean, chunk_max, finalize = job_timeline(job["id"])
    job_seconds = (parse_time(job["finished_at"]) - parse_time(job["started_at"])).total_seconds()
    return EndToEnd(
        rows=rows,
        file_bytes=csv_path.stat().st_size,
        wall_seconds=finished - started,
        upload_seconds=uploaded - started,
        job_seconds=job_seconds,
        planning_seconds=planning,
        chunks=chunks,
        chunk_mean_seconds=chunk_mean,
        chunk_max_seconds=chunk_max,
        finalize_seconds=finalize,
        job=job,
        rss=sampler.peaks,
        cpu=cpu,
    )


def print_end_to_end(title: str, result: EndToEnd) -> None:
    wall = result.wall_seconds
    print()
    print(title)
    print(f"  rows:            {result.rows:,} ({result.file_bytes / MB:.1f} MB), all succeeded")
    print(f"  table count:     {result.rows:,} (checked)")
    print(f"  wall, POST -> final status: {wall:.2f} s  -> {result.rate:,.0f} rows/s")
    print(f"    upload (POST until 202):  {result.upload_seconds:.2f} s")
    print(f"    planning (created -> started): {result.planning_seconds:.2f} s")
    print(
        f"  job duration (started -> finished): {result.job_seconds:.2f} s  "
        f"-> {result.job_rate:,.0f} rows/s"
    )
    print(
        f"    chunks: {result.chunks} x ~{result.rows // max(result.chunks, 1):,} rows, "
        f"run time mean {result.chunk_mean_seconds:.2f} s, max {result.chunk_max_seconds:.2f} s "
        f"(2 at a time)"
    )
    print(f"    finish step: {result.finalize_seconds:.2f} s")
    cores = os.cpu_count() or 1
    parts = ", ".join(
        f"{name} {seconds:.1f} s ({seconds / wall * 100:.0f}% of one core)"
        for name, seconds in result.cpu.items()
    )
    print(f"  CPU during the run ({cores} cores, {cores * wall:.0f} core-s available): {parts}")
    per_row = ", ".join(
        f"{name} {seconds / result.rows * 1e6:.1f}" for name, seconds in result.cpu.items()
    )
    print(f"  CPU per row (microseconds): {per_row}")
    rss = result.rss
    print(f"  worker RSS peaks ({rss.samples} samples every {SAMPLE_SECONDS} s):")
    for pid, peak in sorted(rss.per_process.items()):
        print(f"    pid {pid:<8d} {peak / MB:7.1f} MB  {rss.names.get(pid, '?')}")
    print(f"    max total at one sample: {rss.total / MB:.1f} MB")


# --- Baselines ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timed:
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def copy_upsert(csv_path: Path) -> Timed:
    """psycopg only: csv parse -> COPY into a temp table -> one INSERT ... ON CONFLICT,
    in one transaction; the rows belong to the bench user, as the job's do (contacts
    are scoped by owner: the key is unique per owner)."""
    names = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "email")
    with psycopg.connect(DB_URL) as conn:
        found = conn.execute("SELECT id FROM auth_user WHERE username = 'bench'").fetchone()
        assert found is not None, "the bench user is made before the baselines run"
        owner = found[0]
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_stage (email text, name text, age smallint,"
                " city text, amount numeric(12, 2)) ON COMMIT DROP"
            )
            rows = 0
            with (
                csv_path.open(newline="", encoding="utf-8") as source,
                cursor.copy(f"COPY bench_stage ({names}) FROM STDIN") as copy,
            ):
                reader = csv.reader(source)
                next(reader)  # header
                for record in reader:
                    copy.write_row([value or None for value in record])
                    rows += 1
            cursor.execute(
                f"INSERT INTO {TABLE} (owner_id, {names}) "  # noqa: S608
                f"SELECT %s, {names} FROM bench_stage "
                f"ON CONFLICT (owner_id, email) DO UPDATE SET {updates}",
                [owner],
            )
            written = cursor.rowcount
        seconds = time.perf_counter() - started
    if written != rows:
        raise RuntimeError(f"the upsert wrote {written:,} rows of {rows:,}")
    return Timed(rows=rows, seconds=seconds)


def django_baseline(
    env: dict[str, str], mode: str, csv_path: Path, *, rows: int = 0, extra: tuple[str, ...] = ()
) -> Timed:
    """Run ``_django_baselines.py`` in a subprocess; its own clock excludes Django setup."""
    args = [mode, str(csv_path), "--batch-size", str(BASELINE_BATCH)]
    if rows:
        args += ["--rows", str(rows)]
    figures = script_figures("_django_baselines.py", *args, *extra, env=env)
    return Timed(rows=int(figures["rows"]), seconds=float(figures["seconds"]))


def checked(timed: Timed, expected: int, what: str) -> Timed:
    in_table = count_rows()
    if timed.rows != expected or in_table != expected:
        raise RuntimeError(
            f"{what}: wrote {timed.rows:,} rows, table holds {in_table:,}, expected {expected:,}"
        )
    return timed


@dataclass(slots=True)
class Baselines:
    ceiling: Timed
    ceiling_update: Timed
    bulk_create: Timed
    # django-import-export with CachedInstanceLoader (compared) and its default loader
    import_export: Timed | None
    import_export_default: Timed | None


def run_baselines(env: dict[str, str], csv_path: Path, rows: int) -> Baselines:
    print()
    print(f"Baselines, same file and database, each into an empty {TABLE}:")
    reset_table()
    ceiling = checked(copy_upsert(csv_path), rows, "ceiling")
    print(
        f"  ceiling, COPY + one INSERT ... ON CONFLICT (psycopg), empty table: "
        f"{ceiling.seconds:.2f} s -> {ceiling.rate:,.0f} rows/s"
    )
    with connect() as conn:
        conn.execute("CHECKPOINT")
    update = checked(copy_upsert(csv_path), rows, "ceiling, update path")
    print(
        f"  same, again on the full table (every row an update): "
        f"{update.seconds:.2f} s -> {update.rate:,.0f} rows/s (not used in the ratios)"
    )

    reset_table()
    bulk = checked(django_baseline(env, "bulk-create", csv_path), rows, "bulk_create")
    print(
        f"  Django bulk_create(update_conflicts=True), batches of {BASELINE_BATCH:,}: "
        f"{bulk.seconds:.2f} s -> {bulk.rate:,.0f} rows/s"
    )

    subset = min(rows, IMPORT_EXPORT_ROWS)
    found: dict[str, Timed] = {}
    for loader, label in (("cached", "CachedInstanceLoader"), ("default", "default loader")):
        reset_table()
        try:
            timed = django_baseline(
                env, "import-export", csv_path, rows=subset, extra=("--loader", loader)
            )
        except RuntimeError as exc:
            # The bench extra brings django-import-export and tablib, its dependency.
            missing = ("No module named 'import_export'", "No module named 'tablib'")
            if not any(message in str(exc) for message in missing):
                raise
            print("  django-import-export: not installed (pip install -e '.[dev,bench]'); skipped")
            break
        found[loader] = checked(timed, subset, f"django-import-export, {label}")
        print(
            f"  django-import-export (use_bulk, batch_size {BASELINE_BATCH:,}, skip_diff, "
            f"{label}), first {subset:,} rows: {timed.seconds:.2f} s -> {timed.rate:,.0f} rows/s"
        )
    return Baselines(
        ceiling=ceiling,
        ceiling_update=update,
        bulk_create=bulk,
        import_export=found.get("cached"),
        import_export_default=found.get("default"),
    )


# --- Report -------------------------------------------------------------------------------


def verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("PASS" if passed else "FAIL")


def ratio(numerator: float, denominator: float | None) -> float | None:
    return None if not denominator else numerator / denominator


def print_summary(main: EndToEnd, baselines: Baselines | None, big: EndToEnd | None) -> None:
    def rate(value: float | None) -> str:
        return "skipped" if value is None else f"{value:,.0f} rows/s"

    def times(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}x"

    ceiling = baselines.ceiling.rate if baselines else None
    bulk = baselines.bulk_create.rate if baselines else None
    ie_timed = baselines.import_export if baselines else None
    ie_default_timed = baselines.import_export_default if baselines else None
    import_export = ie_timed.rate if ie_timed else None
    ie_default = ie_default_timed.rate if ie_default_timed else None
    ie_rows = min(main.rows, IMPORT_EXPORT_ROWS)
    rss_mb = main.rss.max_process / MB
    r_ceiling = ratio(main.rate, ceiling)
    r_bulk = ratio(main.rate, bulk)
    r_ie = ratio(main.rate, import_export)
    r_ie_default = ratio(main.rate, ie_default)
    r_big = ratio(big.rate, main.rate) if big else None

    print()
    print("=" * 78)
    print(f"Summary ({main.rows:,} rows, chunk_size {main.job['chunk_size']:,})")
    print("=" * 78)
    lines = [
        ("end to end (POST -> final status)", rate(main.rate)),
        ("job duration (started -> finished)", rate(main.job_rate)),
        ("ceiling: COPY + INSERT ON CONFLICT, empty table", rate(ceiling)),
        (f"Django bulk_create, batches of {BASELINE_BATCH:,}", rate(bulk)),
        (f"django-import-export, {ie_rows:,} rows, cached loader", rate(import_export)),
        (f"django-import-export, {ie_rows:,} rows, default loader", rate(ie_default)),
        ("worker peak RSS, largest process", f"{rss_mb:,.1f} MB"),
        ("worker peak RSS, all processes", f"{main.rss.total / MB:,.1f} MB"),
        (
            f"end to end, {big.rows:,} rows" if big else "end to end, big file",
            rate(big.rate if big else None),
        ),
    ]
    for name, value in lines:
        print(f"  {name:<50s} {value:>20s}")
    print()

    def at_least(name: str, measured: float | None, target: float) -> tuple[Any, ...]:
        passed = None if measured is None else measured >= target
        return (name, times(measured), f">= {target:g}", passed)

    checks = [
        at_least("e2e / ceiling", r_ceiling, TARGET_CEILING_RATIO),
        at_least("e2e / bulk_create", r_bulk, TARGET_BULK_CREATE_RATIO),
        at_least("e2e / import-export (cached)", r_ie, TARGET_IMPORT_EXPORT_RATIO),
        at_least("e2e / import-export (default)", r_ie_default, TARGET_IMPORT_EXPORT_RATIO),
        (
            "worker peak RSS per process",
            f"{rss_mb:.1f} MB",
            f"< {TARGET_RSS_MB:g} MB",
            rss_mb < TARGET_RSS_MB,
        ),
        (
            "big file / main file rate",
            times(r_big),
            f"~1 (>= {TARGET_SCALING_RATIO})",
            None if r_big is None else r_big >= TARGET_SCALING_RATIO,
        ),
    ]
    print(f"  {'ratio':<30s} {'measured':>12s} {'target':>14s}  verdict")
    for name, measured, target, passed in checks:
        print(f"  {name:<30s} {measured:>12s} {target:>14s}  {verdict(passed)}")
    print()
    print("The ceiling is the first COPY run, into an empty table, as the jobs are.")
    print(
        "django-import-export: the cached-loader ratio is the one that counts (fast settings "
        "are fair);\nthe default-loader ratio is shown for reference."
    )


# --- Export (reported, no target) -------------------------------------------------------


@dataclass(slots=True)
class Export:
    rows: int
    seconds: float
    download_seconds: float
    file_bytes: int
    ceiling: Timed

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def run_export(client: httpx.Client, rows: int, *, chunk_size: int) -> Export:
    """data.export of the whole table to CSV (POST until succeeded), the download, and
    psycopg's ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` of the same rows to compare."""
    started = time.perf_counter()
    response = client.post(
        "/api/v1/jobs/",
        json={
            "kind": "data.export",
            "params": {"target": "contacts", "format": "csv"},
            "chunk_size": chunk_size,
        },
    )
    if response.status_code != 202:
        raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
    url = response.json()["url"]
    while (job := client.get(url).json())["status"] not in FINAL_STATUSES:
        time.sleep(POLL_SECONDS)
    finished = time.perf_counter()
    if job["status"] != "succeeded" or job["summary"]["rows"] != rows:
        raise RuntimeError(f"export ended {job['status']}: {json.dumps(job, indent=2)}")
    lines = size = 0
    with client.stream("GET", job["links"]["output"]) as download:
        for piece in download.iter_bytes():
            lines += piece.count(b"\n")
            size += len(piece)
    downloaded = time.perf_counter()
    if lines != rows + 1:
        raise RuntimeError(f"the export file has {lines:,} lines, expected {rows + 1:,}")
    names = ", ".join(COLUMNS)
    with psycopg.connect(DB_URL) as conn, conn.cursor() as cursor:
        copy_started = time.perf_counter()
        copied = 0
        with cursor.copy(
            f"COPY (SELECT {names} FROM {TABLE} ORDER BY id) TO STDOUT (FORMAT csv)"  # noqa: S608
        ) as copy:
            for data in copy:
                copied += bytes(data).count(b"\n")
        ceiling = Timed(rows=copied, seconds=time.perf_counter() - copy_started)
    return Export(
        rows=rows,
        seconds=finished - started,
        download_seconds=downloaded - finished,
        file_bytes=size,
        ceiling=ceiling,
    )


def print_export(result: Export) -> None:
    print()
    print(f"Export, {result.rows:,} rows to CSV (data.export, chunk_size as above)")
    print(f"  POST -> succeeded: {result.seconds:.2f} s -> {result.rate:,.0f} rows/s")
    print(
        f"  download of the file: {result.file_bytes / MB:.1f} MB in "
        f"{result.download_seconds:.2f} s (checked: header + {result.rows:,} lines)"
    )
    print(
        f"  psycopg COPY (SELECT ...) TO STDOUT (FORMAT csv), same rows: "
        f"{result.ceiling.seconds:.2f} s -> {result.ceiling.rate:,.0f} rows/s "
        f"(export / COPY: {result.rate / result.ceiling.rate:.2f}x; no target)"
    )


# --- Main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bench: data.import throughput (rows/s), end to end and against baselines.")
    with scratch_and_database("bulkyard-bench-", keep=args.keep) as scratch:
        main_csv = scratch / "contacts.csv"
        write_contacts(main_csv, args.rows, SEED)
        largest = max(contacts_size_estimate(args.rows), contacts_size_estimate(args.big_rows))
        env = service_env(scratch, largest)
        with api_and_worker(env, scratch, concurrency=2) as (client, worker):
            print(f"database {DB_NAME}: {server_settings()}")
            pids = {"worker": worker.pid, "postgres (all databases)": postmaster_pid()}
            uvicorn_pid = child_running("uvicorn")
            if uvicorn_pid is not None:
                pids["uvicorn"] = uvicorn_pid
            print(f"\nEnd to end, {args.rows:,} rows ...")
            main_run = run_end_to_end(
                client,
                main_csv,
                rows=args.rows,
                chunk_size=args.chunk_size,
                worker_pid=worker.pid,
                pids=pids,
            )
            print_end_to_end(f"End to end, {args.rows:,} rows", main_run)
            print_export(run_export(client, args.rows, chunk_size=args.chunk_size))

            baselines = None
            if not args.skip_baselines:
                baselines = run_baselines(env, main_csv, args.rows)

            big_run = None
            if args.big_rows:
                big_csv = scratch / "contacts-big.csv"
                write_contacts(big_csv, args.big_rows, BIG_SEED)
                try:
                    print(f"\nEnd to end, {args.big_rows:,} rows ...")
                    big_run = run_end_to_end(
                        client,
                        big_csv,
                        rows=args.big_rows,
                        chunk_size=args.chunk_size,
                        worker_pid=worker.pid,
                        pids=pids,
                    )
                finally:
                    big_csv.unlink(missing_ok=True)
                print_end_to_end(f"End to end, {args.big_rows:,} rows", big_run)
        print_summary(main_run, baselines, big_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
