"""Fair scheduling (decision 0013): how long a small job waits behind another user's big
one, and what fairness costs the big one.

What is measured (one run, one machine)
    1. uvicorn (one process) and a Celery worker (prefork, ``--concurrency`` pool
       processes, 2), on PostgreSQL and Redis, started once per scheduling mode with
       ``BULKYARD_SCHEDULING`` set: ``fifo`` (the order before decision 0013), then
       ``fair``. Two users, ``bench_a`` and ``bench_b``, both granted the contacts target.
    2. In each mode, after one unmeasured import of A's file to warm the worker up:
       user A's ``data.import`` of ``--rows`` contacts (600,000;
       ``bulkyard.data.samples``) alone; then A's import again and, ``--delay`` seconds
       (3) after A's upload started, user B's import of ``--small-rows`` (100). The
       contacts table is emptied before each import, so every A run inserts.
    3. Per job, seconds from starting its multipart POST until its WebSocket pushes
       ``job.finished`` (``_support.submit_file_and_wait``). Printed per mode: A alone,
       A with B, B's latency, B's latency as a fraction of A's duration, A's throughput
       with B against alone, and from the database how many of A's chunks started
       after B's last chunk started.
    A table of checks on the ``fair`` figures ends the run: B's latency < 0.25 of A's
    duration, A's throughput with B more than 95 % of alone; then one PASS/FAIL line.
    The exit status is 0 whatever the verdict.

Set-up and tear-down are ``_support``'s (throwaway database ``bulkyard_bench``, Redis
db 14, a scratch folder).

Run from the repository root::

    .venv/bin/python bench/fairness.py [--rows N] [--small-rows N] [--delay S]
        [--chunk-size N] [--concurrency N] [--keep]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    celery_worker,
    connect,
    contacts_size_estimate,
    manage,
    print_checks,
    scratch_and_database,
    service_env,
    submit_file_and_wait,
    uvicorn_server,
    wait_for_worker,
    write_contacts,
)

TABLE = "bulkyard_data_contact"
BIG_SEED = 20_251_201
SMALL_SEED = 20_251_202
MODES = ("fifo", "fair")
TARGET_FRACTION = 0.25
TARGET_THROUGHPUT = 0.95


@dataclass
class Outcome:
    mode: str
    alone: float
    big: float
    small: float
    big_after_small: int
    big_chunks: int

    @property
    def fraction(self) -> float:
        return self.small / self.big

    @property
    def throughput(self) -> float:
        return self.alone / self.big


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=600_000, help="rows of A's job (600000)")
    parser.add_argument("--small-rows", type=int, default=100, help="rows of B's job (100)")
    parser.add_argument("--delay", type=float, default=3.0, help="seconds from A to B (3)")
    parser.add_argument("--chunk-size", type=int, default=10_000, help="chunk_size (10000)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes (2)")
    parser.add_argument("--keep", action="store_true", help="keep the database and scratch")
    return parser.parse_args(argv)


def user_token(env: dict[str, str], name: str) -> str:
    token = manage(env, "create_api_user", name, "--token-only").strip()
    manage(env, "grant_target", name, "contacts")
    return token


def reset_table() -> None:
    """Empty the contacts table, and flush dirty buffers so that a run does not pay
    for the writes of the one before."""
    with connect() as conn:
        conn.execute(f"TRUNCATE {TABLE}")
        conn.execute("CHECKPOINT")


def submit(client: httpx.Client, path: Path, chunk_size: int) -> float:
    seconds, job = submit_file_and_wait(
        client, path, kind="data.import", params={"target": "contacts"}, chunk_size=chunk_size
    )
    if job["status"] != "succeeded" or job["failed_items"]:
        raise RuntimeError(f"job {job['id']} ended {job['status']}: {job}")
    return seconds


def big_after_small(big_id: str, small_id: str) -> tuple[int, int]:
    """How many of the big job's chunks started after the small job's last one
    started, and how many it has."""
    with connect() as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE started_at > (SELECT max(started_at) "
            "FROM bulkyard_jobs_chunk WHERE job_id = %s)), count(*) "
            "FROM bulkyard_jobs_chunk WHERE job_id = %s",
            [small_id, big_id],
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def latest_job_id(owner: str) -> str:
    with connect() as conn:
        row = conn.execute(
            "SELECT j.id FROM bulkyard_jobs_job j JOIN auth_user u ON u.id = j.owner_id "
            "WHERE u.username = %s ORDER BY j.created_at DESC LIMIT 1",
            [owner],
        ).fetchone()
    assert row is not None
    return str(row[0])


def run_mode(
    mode: str, env: dict[str, str], scratch: Path, tokens: dict[str, str], args: Any
) -> Outcome:
    env = {**env, "BULKYARD_SCHEDULING": mode}
    big_csv, small_csv = scratch / "big.csv", scratch / "small.csv"
    worker_log = scratch / f"worker-{mode}.log"
    with (
        uvicorn_server(env, scratch / f"uvicorn-{mode}.log") as base_url,
        celery_worker(env, worker_log, concurrency=args.concurrency) as worker,
    ):
        wait_for_worker(base_url, worker, worker_log)
        clients = {
            name: httpx.Client(
                base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=600
            )
            for name, token in tokens.items()
        }
        try:
            # Unmeasured: a worker's first import pays for imports, connections and
            # caches that the measured runs should not.
            reset_table()
            submit(clients["bench_a"], big_csv, args.chunk_size)
            reset_table()
            alone = submit(clients["bench_a"], big_csv, args.chunk_size)
            print(f"  {mode}: A alone {alone:.2f} s")
            reset_table()
            results: dict[str, float] = {}

            def big_job() -> None:
                results["big"] = submit(clients["bench_a"], big_csv, args.chunk_size)

            thread = threading.Thread(target=big_job)
            started = time.perf_counter()
            thread.start()
            time.sleep(max(0.0, args.delay - (time.perf_counter() - started)))
            results["small"] = submit(clients["bench_b"], small_csv, args.chunk_size)
            thread.join()
            if "big" not in results:
                raise RuntimeError("A's job did not finish; see the output above")
        finally:
            for client in clients.values():
                client.close()
    after, chunks = big_after_small(latest_job_id("bench_a"), latest_job_id("bench_b"))
    print(
        f"  {mode}: A with B {results['big']:.2f} s, B {results['small']:.2f} s; "
        f"{after} of A's {chunks} chunks started after B's last"
    )
    return Outcome(mode, alone, results["big"], results["small"], after, chunks)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"Bench: a {args.small_rows:,}-row import of user B submitted {args.delay:g} s after "
        f"a {args.rows:,}-row import of user A; chunk_size {args.chunk_size:,}, "
        f"{args.concurrency} pool processes."
    )
    with scratch_and_database("bulkyard-bench-fairness-", keep=args.keep) as scratch:
        write_contacts(scratch / "big.csv", args.rows, BIG_SEED)
        write_contacts(scratch / "small.csv", args.small_rows, SMALL_SEED)
        env = service_env(scratch, contacts_size_estimate(args.rows))
        manage(env, "migrate", "--no-input")
        tokens = {name: user_token(env, name) for name in ("bench_a", "bench_b")}
        outcomes = [run_mode(mode, env, scratch, tokens, args) for mode in MODES]

    print(
        f"\n  {'mode':<6s} {'A alone':>9s} {'A with B':>9s} {'B':>8s} {'B / A':>7s} "
        f"{'A rate vs alone':>16s} {'A chunks after B':>17s}"
    )
    for o in outcomes:
        print(
            f"  {o.mode:<6s} {o.alone:8.2f}s {o.big:8.2f}s {o.small:7.2f}s {o.fraction:7.3f} "
            f"{o.throughput:15.1%} {o.big_after_small:>8d} of {o.big_chunks}"
        )
    fair = outcomes[MODES.index("fair")]
    checks = [
        (
            "B's latency / A's duration",
            f"{fair.fraction:.3f}",
            f"< {TARGET_FRACTION}",
            fair.fraction < TARGET_FRACTION,
        ),
        (
            "A's throughput vs alone",
            f"{fair.throughput:.1%}",
            f"> {TARGET_THROUGHPUT:.0%}",
            fair.throughput > TARGET_THROUGHPUT,
        ),
    ]
    print()
    print_checks(checks)
    print(f"\n{'PASS' if all(c[3] for c in checks) else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
