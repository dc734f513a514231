"""Latency of ``POST /api/v1/jobs/`` with a large file upload (the "202 in under 1 s" target).

What is measured
    The wall time of one HTTP request, on the client, from the moment httpx starts sending
    the multipart body of a ``text.stats`` job with an N-item CSV (``id,text``, about 200
    characters of text per item) until the full response has been read. That covers the
    upload over loopback, Django reading and parsing the body (the upload handler streams
    the file to a temporary file and hashes it), validation, storing the input file, the
    ``INSERT`` of the job row and the hand-off of its planning task to the broker (Redis).
    Every response must be ``202 Accepted``; anything else aborts the bench.

    No Celery worker runs: the figure is the request path alone, not the processing of the
    job. The planning messages pile up in a Redis database used only by this bench, which is
    flushed at the start and at the end so nothing is left queued.

How (set-up and tear-down are ``_support``'s, shared by every bench)
    1. Drops and re-creates the PostgreSQL database ``bulkyard_bench`` and migrates it with
       ``manage.py migrate``; uses Redis db 14 and flushes it.
    2. Writes a deterministic CSV (seeded random) into a scratch folder.
    3. Creates the user ``bench`` and its token with ``manage.py create_api_user``.
    4. Starts ``uvicorn config.asgi:application`` on a free port, waits for ``/health/``, sends
       one warm-up request (not counted), then R timed requests, one at a time, over one
       keep-alive connection.
    5. Prints each timing, the median, the p95 (nearest rank), the max, the upload throughput
       and a PASS/FAIL verdict of the median against the 1000 ms target.
    6. Always stops uvicorn, flushes Redis and drops the database (unless ``--keep``).

Run from the repository root::

    .venv/bin/python bench/submit_latency.py [--items 100000] [--repeat 10] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    DB_NAME,
    MB,
    bench_user,
    nearest_rank,
    scratch_and_database,
    service_env,
    uvicorn_server,
)

TARGET_MS = 1000.0
TEXT_LENGTH = 200
SEED = 20_240_601

SUBJECTS = [
    "The warehouse team",
    "Our billing system",
    "A customer in Lisbon",
    "The night shift",
    "Every regional office",
    "The new courier partner",
    "Support",
    "The quarterly report",
    "Marketing",
    "A returning client",
    "The mobile app",
    "Finance",
]
VERBS = [
    "confirmed",
    "reported",
    "rescheduled",
    "cancelled",
    "requested",
    "reviewed",
    "approved",
    "flagged",
    "shipped",
    "delayed",
    "updated",
    "archived",
]
OBJECTS = [
    "the pending order",
    "three damaged parcels",
    "an invoice for March",
    "the delivery window",
    "a refund of 42 euros",
    "the address change",
    "two late shipments",
    "the contract renewal",
    "a bulk discount",
    "the inventory count",
    "the customs paperwork",
    "a duplicate payment",
]
TAILS = [
    "after a phone call this morning",
    "because the stock was short",
    "without any further notice",
    "as agreed in last week's meeting",
    "before the holiday weekend",
    "while the system was down",
    "on behalf of the account manager",
    "so the audit can close on time",
    "despite the weather warning",
    "with a note for the driver",
]
ENDINGS = [".", ".", ".", "!", "?"]


@dataclass(frozen=True, slots=True)
class Timing:
    seconds: float
    status: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Measure the latency of POST /api/v1/jobs/ with a large CSV upload against a "
            "real uvicorn + PostgreSQL + Redis stack (no Celery worker: request path only)."
        ),
    )
    parser.add_argument(
        "--items", type=int, default=100_000, help="items (CSV rows) in the file (default 100000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=10, help="timed requests, after one warm-up (default 10)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the {DB_NAME!r} database and the scratch folder its jobs point to",
    )
    args = parser.parse_args(argv)
    if args.items < 1:
        parser.error("--items must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


# --- Data ---------------------------------------------------------------------------------


def sentence(rng: random.Random) -> str:
    tail = f" {rng.choice(TAILS)}" if rng.random() < 0.6 else ""
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        f"{tail}{rng.choice(ENDINGS)}"
    )


def document(rng: random.Random) -> str:
    """Whole sentences, about ``TEXT_LENGTH`` characters (mean ~197, range ~140-230)."""
    text = sentence(rng)
    while len(text) < TEXT_LENGTH:
        following = sentence(rng)
        if len(text) + 1 + len(following) > TEXT_LENGTH + 30:
            break
        text = f"{text} {following}"
    return text


def write_csv(path: Path, items: int) -> int:
    """Write ``items`` rows of ``id,text``; return the file size in bytes."""
    rng = random.Random(SEED)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "text"])
        for number in range(1, items + 1):
            writer.writerow([f"doc-{number:07d}", document(rng)])
    return path.stat().st_size


# --- Measurement --------------------------------------------------------------------------


def submit(client: httpx.Client, csv_path: Path) -> Timing:
    """POST the file once; time from the first byte sent to the last byte of the answer."""
    with csv_path.open("rb") as upload:
        # A file object makes httpx stream the multipart body in chunks (with a
        # Content-Length computed up front) instead of building it in memory.
        started = time.perf_counter()
        response = client.post(
            "/api/v1/jobs/",
            data={"kind": "text.stats", "params": '{"top_words": 3}'},
            files={"file": (csv_path.name, upload, "text/csv")},
        )
        response.read()
        elapsed = time.perf_counter() - started
    if response.status_code != 202:
        raise AssertionError(f"expected 202, got {response.status_code}: {response.text[:2000]}")
    return Timing(seconds=elapsed, status=response.status_code)


def report(items: int, size: int, timings: list[Timing]) -> bool:
    ms = [t.seconds * 1000 for t in timings]
    median = statistics.median(ms)
    size_mb = size / MB
    print()
    print("POST /api/v1/jobs/ (kind text.stats, multipart CSV upload)")
    print(f"  items:        {items:,}")
    print(f"  file size:    {size_mb:.2f} MB ({size:,} bytes)")
    print(f"  requests:     {len(ms)} timed (+1 warm-up not counted), all 202")
    for number, value in enumerate(ms, start=1):
        print(f"    #{number:<3d} {value:8.1f} ms   ({size_mb / (value / 1000):6.1f} MB/s)")
    print(f"  median:       {median:.1f} ms")
    print(f"  p95 (nearest rank): {nearest_rank(ms, 95):.1f} ms")
    print(f"  max:          {max(ms):.1f} ms")
    print(f"  min:          {min(ms):.1f} ms")
    print(f"  throughput:   {size_mb / (median / 1000):.1f} MB/s (file size / median time)")
    passed = median < TARGET_MS
    relation = "<" if passed else ">="
    verdict = "PASS" if passed else "FAIL"
    print(f"verdict: median {median:.1f} ms {relation} {TARGET_MS:.0f} ms target -> {verdict}")
    return passed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bench: latency of POST /api/v1/jobs/ with a file upload.")
    print(
        "No Celery worker runs: this measures only the request path (upload, parse, store, "
        "enqueue), not the processing of the jobs."
    )
    with scratch_and_database("bulkyard-bench-", keep=args.keep) as scratch:
        csv_path = scratch / "texts.csv"
        size = write_csv(csv_path, args.items)
        print(f"generated {args.items:,} items: {csv_path.name}, {size / MB:.2f} MB")
        env = service_env(scratch, size)
        token = bench_user(env)
        print(f"database {DB_NAME}: migrated; user 'bench': token created")

        with uvicorn_server(env, scratch / "uvicorn.log") as base_url:
            print(f"uvicorn: serving config.asgi:application at {base_url}")
            headers = {"Authorization": f"Token {token}"}
            timeout = httpx.Timeout(120.0)
            with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
                warm = submit(client, csv_path)
                print(f"warm-up: {warm.seconds * 1000:.1f} ms (not counted)")
                timings = []
                for _ in range(args.repeat):
                    timings.append(submit(client, csv_path))
        passed = report(args.items, size, timings)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
