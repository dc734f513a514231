"""The items a cancel left, downloaded (``GET /jobs/{id}/results/?outcome=unprocessed``):
how fast a big CSV's unprocessed file is cut out and streams, and that memory stays flat
while it does.

What is measured (one run, one machine)
    0. In-process, no service (``_unprocessed_extract.py``, alone with ``--extract-only``):
       the CSV of ``--rows`` contacts cut down as a cancel at ``--cancel-after`` leaves it
       (the chunks before done, the next two stopped half-way, the rest closed), three
       times: seconds each, bytes out; once more under ``tracemalloc``: its peak.
    1. uvicorn (one process) and a Celery worker (prefork, ``--concurrency`` pool
       processes, 2), on PostgreSQL and Redis; the user ``bench``, granted the contacts
       target.
    2. A ``data.import`` of ``--rows`` contacts (1,000,000; ``bulkyard.data.samples``),
       ``--chunk-size`` (10,000), cancelled once ``--cancel-after`` of its items (0.3)
       were imported (the job's URL polled every 0.2 s), then followed until it is
       ``cancelled``. The chunks running at the cancel stop part-way.
    3. Its unprocessed items downloaded by httpx, streamed and counted, never kept:
       seconds to the first byte and in all, bytes, MB/s; uvicorn's RSS before the
       request and its peak during it (sampled every 0.2 s).
    Checks: the file holds as many records as ``X-Unprocessed-Count`` says (the sample
    rows are one line each), plus the header; uvicorn grew by less than 64 MB. The
    exit status is 0 whatever the verdict.

Set-up and tear-down are ``_support``'s (throwaway database ``bulkyard_bench``, Redis
db 14, a scratch folder).

Run from the repository root::

    .venv/bin/python bench/unprocessed_download.py [--rows N] [--chunk-size N]
        [--cancel-after F] [--concurrency N] [--extract-only] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    MB,
    RssSampler,
    api_and_worker,
    child_running,
    contacts_size_estimate,
    print_checks,
    rss_bytes,
    scratch_and_database,
    script_figures,
    service_env,
    write_contacts,
)

SEED = 20_261_205
TARGET_GROWTH = 64 * MB


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (1000000)")
    parser.add_argument("--chunk-size", type=int, default=10_000, help="chunk_size (10000)")
    parser.add_argument(
        "--cancel-after", type=float, default=0.3, help="fraction imported at the cancel (0.3)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes (2)")
    parser.add_argument(
        "--extract-only", action="store_true", help="only step 0: no database, no server"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and scratch")
    return parser.parse_args(argv)


def cancelled_import(client: httpx.Client, path: Path, args: argparse.Namespace) -> dict:
    with path.open("rb") as upload:
        response = client.post(
            "/api/v1/jobs/",
            data={
                "kind": "data.import",
                "params": '{"target": "contacts"}',
                "chunk_size": str(args.chunk_size),
            },
            files={"file": (path.name, upload, "text/csv")},
        )
    if response.status_code != 202:
        raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
    url = f"/api/v1/jobs/{response.json()['id']}/"
    while (job := client.get(url).json())["processed_items"] < args.cancel_after * args.rows:
        if job["status"] not in ("queued", "running"):
            raise RuntimeError(f"the import ended {job['status']} before the cancel: {job}")
        time.sleep(0.2)
    client.post(f"{url}cancel/").raise_for_status()
    while (job := client.get(url).json())["status"] != "cancelled":
        time.sleep(0.2)
    return job


def extract_in_process(csv_path: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    figures: dict[str, Any] = script_figures(
        "_unprocessed_extract.py",
        str(csv_path),
        "--chunk-size",
        str(args.chunk_size),
        "--done",
        str(args.cancel_after),
        env=env,
    )
    seconds = figures["seconds"]
    out = figures["output_bytes"]
    print(
        f"  in-process: {figures['items_left']:,} items left, {out / MB:.1f} MB of "
        f"{figures['input_bytes'] / MB:.1f} MB, cut out in "
        + ", ".join(f"{s:.2f}" for s in seconds)
        + f" s ({out / MB / min(seconds):.0f} MB/s at best); peak traced "
        f"{figures['peak_traced_bytes'] / MB:.2f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"Bench: the unprocessed items of a {args.rows:,}-row import cancelled at "
        f"{args.cancel_after:.0%}; chunk_size {args.chunk_size:,}, "
        f"{args.concurrency} pool processes."
    )
    if args.extract_only:
        scratch = Path(tempfile.mkdtemp(prefix="bulkyard-bench-unprocessed-"))
        try:
            write_contacts(scratch / "contacts.csv", args.rows, SEED)
            env = service_env(scratch, contacts_size_estimate(args.rows))
            extract_in_process(scratch / "contacts.csv", env, args)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return 0
    with scratch_and_database("bulkyard-bench-unprocessed-", keep=args.keep) as scratch:
        csv_path = scratch / "contacts.csv"
        write_contacts(csv_path, args.rows, SEED)
        env = service_env(scratch, contacts_size_estimate(args.rows))
        extract_in_process(csv_path, env, args)
        with api_and_worker(env, scratch, concurrency=args.concurrency) as (client, _):
            job = cancelled_import(client, csv_path, args)
            print(
                f"  import cancelled: {job['processed_items']:,} of {job['total_items']:,} "
                f"items ran, {job['unprocessed_items']:,} did not"
            )
            uvicorn_pid = child_running("uvicorn")
            assert uvicorn_pid is not None, "uvicorn is not a child of the bench"
            before = rss_bytes(uvicorn_pid)
            size = lines = 0
            first_byte = None
            started = time.perf_counter()
            with (
                RssSampler(uvicorn_pid) as sampler,
                client.stream("GET", f"{job['links']['unprocessed']}") as response,
            ):
                response.raise_for_status()
                for piece in response.iter_raw():
                    if first_byte is None:
                        first_byte = time.perf_counter() - started
                    size += len(piece)
                    lines += piece.count(b"\n")
                count = int(response.headers["X-Unprocessed-Count"])
            seconds = time.perf_counter() - started
            growth = sampler.peaks.max_process - before

    print(
        f"  download: {size / MB:.1f} MB, {lines - 1:,} records in {seconds:.2f} s "
        f"({size / MB / seconds:.0f} MB/s), first byte after {(first_byte or 0) * 1000:.0f} ms"
    )
    print(
        f"  uvicorn RSS: {before / MB:.0f} MB before, peak {sampler.peaks.max_process / MB:.0f} MB"
        f" during ({sampler.peaks.samples} samples)"
    )
    checks = [
        ("records = X-Unprocessed-Count", f"{lines - 1:,}", f"= {count:,}", lines - 1 == count),
        (
            "uvicorn's growth",
            f"{growth / MB:.1f} MB",
            f"< {TARGET_GROWTH // MB} MB",
            growth < TARGET_GROWTH,
        ),
    ]
    print()
    print_checks(checks)
    print(f"\n{'PASS' if all(c[3] for c in checks) else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
