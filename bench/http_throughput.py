"""Throughput of ``http.request``: requests/second to a local server that answers after
~20 ms, end to end, against a naive sequential ``requests`` loop.

What is measured (one run, one machine)
    1. End to end, N requests (default 20,000): from starting the multipart
       ``POST /api/v1/jobs/`` (``kind=http.request``, a CSV of N ids and a request
       template ``GET http://127.0.0.1:<port>/items/{id}``, ``chunk_size`` 2,000,
       ``concurrency`` 100 per chunk) until the job's WebSocket
       reports its end, through uvicorn and a real Celery worker (prefork, ``--concurrency``
       pool processes, default 2). The job must succeed with N successes, and the server
       must have had exactly one request per id. Every safety rule is on: the server is
       reached through the allow-list (``BULKYARD_HTTP_ALLOWED_HOSTS``), each connection
       resolved and checked, each request through the per-host gate in Redis (its limits
       set far above what is reached, so its cost is included, not its waiting), each
       outcome in the request ledger and the results.
    2. The naive loop: one process, ``requests.get`` for each of the first ``--naive``
       ids (default 1,000) in turn, as code without a bulk tool does.
    The server is aiohttp in its own process (bench/_http_server.py), sleeping ``--latency``
    seconds (default 0.02) before each answer. Prints the figures and the ratios against
    the targets (>= 50x the naive loop, >= 2,000 requests/s); exit status 0
    whatever the verdicts (1 only when the bench itself breaks).

Set-up and tear-down are ``_support``'s, shared by every bench (throwaway database
``bulkyard_bench``, Redis db 14, a scratch folder, uvicorn); all removed at the end unless
``--keep``. Run from the repository root::

    .venv/bin/python bench/http_throughput.py [--requests N] [--naive N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    api_and_worker,
    free_port,
    print_checks,
    print_summary,
    python_stdout,
    rate_check,
    ratio_check,
    scratch_and_database,
    service_env,
    start_peer,
    stop_process_group,
    submit_file_and_wait,
    tree_cpu_seconds,
)

TARGET_NAIVE_RATIO = 50.0
TARGET_RATE = 2000.0

NAIVE_LOOP = """
import sys, time
import requests
base, count = sys.argv[1], int(sys.argv[2])
started = time.perf_counter()
for number in range(count):
    response = requests.get(f"{base}/naive/{number}", timeout=30)
    response.raise_for_status()
print(count, time.perf_counter() - started)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests of the job")
    parser.add_argument("--naive", type=int, default=1_000, help="requests of the naive loop")
    parser.add_argument("--chunk-size", type=int, default=2_000)
    parser.add_argument("--in-flight", type=int, default=100, help="requests in flight per chunk")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--latency", type=float, default=0.02, help="server latency, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bench: http.request throughput (requests/s) against a naive requests loop.")
    with scratch_and_database("bulkyard-bench-http-", keep=args.keep) as scratch:
        ids = scratch / "ids.csv"
        ids.write_text("id\n" + "".join(f"{n}\n" for n in range(args.requests)))
        port = free_port()
        env = {
            **service_env(scratch, ids.stat().st_size),
            "BULKYARD_HTTP_ALLOWED_HOSTS": f"127.0.0.1:{port}",
            "BULKYARD_HTTP_HOST_RATE_PER_SECOND": "1000000",
            "BULKYARD_HTTP_HOST_CONCURRENCY": "10000",
        }
        server_log = scratch / "hits.json"
        server = start_server(port, server_log, latency=args.latency)
        try:
            rate, naive_rate = measure(args, env, scratch, server, base=f"http://127.0.0.1:{port}")
        finally:
            stop_process_group(server, timeout=10)
        hits = json.loads(server_log.read_text())
        job_hits = {path: count for path, count in hits.items() if path.startswith("/items/")}
        if len(job_hits) != args.requests or max(job_hits.values()) != 1:
            raise RuntimeError(
                f"the server got {sum(job_hits.values())} requests for {len(job_hits)} ids "
                f"(expected {args.requests} once each)"
            )
        print("  the server got one request per id of the job")

        ratio = rate / naive_rate
        print_summary(
            f"Summary ({args.requests:,} requests, {args.latency * 1000:.0f} ms server latency, "
            f"chunk_size {args.chunk_size})",
            [
                ("http.request end to end", rate, "requests/s"),
                ("naive requests loop", naive_rate, "requests/s"),
            ],
        )
        print_checks(
            [
                ratio_check("end to end / naive loop", ratio, TARGET_NAIVE_RATIO, digits=1),
                rate_check(rate, TARGET_RATE),
            ]
        )
    return 0


def start_server(port: int, log: Path, *, latency: float) -> subprocess.Popen[bytes]:
    return start_peer(
        "bench/_http_server.py", "--port", str(port), "--log", str(log), "--latency", str(latency)
    )


def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    scratch: Path,
    server: subprocess.Popen[bytes],
    *,
    base: str,
) -> tuple[float, float]:
    """Requests/s of the job end to end, then of the naive loop."""
    params = {
        "request": {"method": "GET", "url": f"{base}/items/{{id}}"},
        "concurrency": args.in_flight,
    }
    ids = scratch / "ids.csv"
    with api_and_worker(env, scratch, concurrency=args.concurrency) as (client, worker):
        print(f"\nEnd to end, {args.requests:,} requests ...")
        cpu_before = {
            "worker": tree_cpu_seconds(worker.pid),
            "server": tree_cpu_seconds(server.pid),
        }
        seconds, job = submit_file_and_wait(
            client, ids, kind="http.request", params=params, chunk_size=args.chunk_size
        )
        cpu = {
            "worker": tree_cpu_seconds(worker.pid) - cpu_before["worker"],
            "HTTP server (aiohttp)": tree_cpu_seconds(server.pid) - cpu_before["server"],
        }
    if job["status"] != "succeeded" or job["succeeded_items"] != args.requests:
        raise RuntimeError(f"the job ended {job['status']}: {json.dumps(job)[:2000]}")
    rate = args.requests / seconds
    print(f"  {seconds:.2f} s -> {rate:,.0f} requests/s")
    per_request = ", ".join(
        f"{name} {used / args.requests * 1000:.2f} ms" for name, used in cpu.items()
    )
    print(f"  CPU per request (2 cores): {per_request}")

    print(f"\nNaive loop, {args.naive:,} requests (requests.get, one after another) ...")
    sent, naive_seconds = python_stdout(NAIVE_LOOP, base, str(args.naive)).split()
    naive_rate = int(sent) / float(naive_seconds)
    print(f"  {float(naive_seconds):.2f} s -> {naive_rate:,.0f} requests/s")
    return rate, naive_rate


if __name__ == "__main__":
    sys.exit(main())
