"""Status reads under load: 200 clients polling one job and 200 following its WebSocket
while a 1,000,000-row ``data.import`` runs.

What is measured (one run, one machine)
    1. The stack as the run command starts it: ``python -m config.web`` (uvicorn, one
       process per core up to 4, or ``--web-processes``) and a Celery worker (prefork,
       2 pool processes), on PostgreSQL and Redis.
    2. A multipart ``POST /api/v1/jobs/`` of N contacts (default 1,000,000;
       ``bulkyard.data.samples``, as ``import_throughput.py``) as ``data.import``.
    3. As soon as it is accepted, for ``--seconds`` (60): ``--clients`` (200) HTTP clients
       (aiohttp sessions), each with its own keep-alive connection opened by one
       unmeasured poll, each sending ``GET /api/v1/jobs/{id}/`` once per ``--interval``
       (1 s) on a fixed schedule, their starts spread over the first interval; and
       ``--followers`` (200) WebSocket clients, connecting over the first ``--ramp``
       seconds (5), each with a ticket from ``POST /api/v1/ws-ticket/``, following
       ``/ws/jobs/{id}/`` until ``job.finished`` (or ``--finish-timeout``). All of it is
       asyncio (uvloop) in this process, with aiohttp, httpx and websockets.
    4. Per poll, the time from sending to the whole response read. Printed: p50, p95,
       p99 and max (nearest rank), the count of polls, errors (no answer, or any status
       but 200) and 5xx among them; how many followers got ``job.finished`` and how long
       after the job's ``finished_at``; the CPU of the web processes over the polling
       window per poll (which also carries the followers and their tickets); how late
       this process's event loop ran (its lag adds to every latency); and whether the
       server's log holds a traceback (and which exceptions).
    5. After the job: the CPU of one status read in the web process, in-process
       (``bench/_status_cpu.py``: the ASGI application called 2,000 times with token
       authentication and throttling, ``time.process_time``, median of 10 rounds).
    The job must succeed with N rows, or the bench stops (exit status 1). A table of
    checks against the goal ends the run: p99 < 100 ms, no error, no 5xx, every follower
    got ``job.finished``, no traceback in the server's log, and <= 2 ms of CPU per status
    read; then one PASS/FAIL line. The exit status is 0 whatever the verdict.

Set-up and tear-down are ``_support``'s, shared by every bench (throwaway database
``bulkyard_bench``, Redis db 14, a scratch folder; throttling at 100,000/min, which
the 12,000 polls a minute of one user stay under, still counted on every request).

Run from the repository root::

    .venv/bin/python bench/status_load.py [--rows N] [--clients N] [--followers N]
        [--seconds S] [--web-processes N] [--worker-nice N] [--log-level L] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    FINAL_STATUSES,
    api_and_worker,
    child_running,
    contacts_size_estimate,
    descendants,
    nearest_rank,
    parse_time,
    print_checks,
    scratch_and_database,
    script_figures,
    service_env,
    tree_cpu_seconds,
    write_contacts,
)

SEED = 20_261_204
TARGET_P99_MS = 100.0
TARGET_CPU_MS = 2.0
CPU_REQUESTS = 2000
LAG_TICK_SECONDS = 0.05


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Latency of GET /api/v1/jobs/{id}/ polled by many clients, with many WebSocket "
            "followers, while a large data.import runs (uvicorn as the run command starts "
            "it, and a Celery worker)."
        ),
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows imported (1000000)")
    parser.add_argument("--chunk-size", type=int, default=50_000, help="chunk_size (50000)")
    parser.add_argument("--clients", type=int, default=200, help="polling clients (200)")
    parser.add_argument("--followers", type=int, default=200, help="WebSocket followers (200)")
    parser.add_argument("--seconds", type=float, default=60.0, help="polling window (60)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls (1)")
    parser.add_argument(
        "--ramp",
        type=float,
        default=5.0,
        help="seconds over which the followers connect, at random moments (5)",
    )
    parser.add_argument(
        "--web-processes",
        type=int,
        default=None,
        help="WEB_CONCURRENCY of the web server (default: as the run command decides)",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=None,
        help="BULKYARD_WORKER_NICE of the worker (default: the setting's default)",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help="LOG_LEVEL of every process (default WARNING; INFO writes the access log)",
    )
    parser.add_argument(
        "--finish-timeout",
        type=float,
        default=1800.0,
        help="seconds to wait for the job to end after the polling window (1800)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the scratch folder (logs)"
    )
    parser.add_argument(
        "--samples",
        type=Path,
        default=None,
        help="write every poll (seconds into the window, latency in ms, job status) as CSV here",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.clients < 1 or args.followers < 0 or args.seconds <= 0:
        parser.error("--rows, --clients and --seconds must be positive, --followers >= 0")
    return args


# --- Load -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Polls:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # no answer: by exception
    job_statuses: Counter[str] = field(default_factory=Counter)  # as the polls saw the job
    # (seconds into the window when sent, latency in ms, the job's status in the answer)
    samples: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies_ms) + sum(self.failures.values())

    @property
    def errors(self) -> int:
        answered_wrong = sum(n for status, n in self.statuses.items() if status != 200)
        return answered_wrong + sum(self.failures.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@dataclass(slots=True)
class Follower:
    finished_at: float | None = None  # time.time() when job.finished arrived
    messages: Counter[str] = field(default_factory=Counter)
    close_code: int | None = None
    error: str | None = None


async def poll(
    session: aiohttp.ClientSession,
    path: str,
    *,
    origin: float,
    start: float,
    until: float,
    every: float,
) -> Polls:
    """One client: GET ``path`` at ``start``, ``start + every``, ... until ``until``,
    over its keep-alive connection; a poll late for its slot goes at once."""
    polls = Polls()
    slot = start
    while slot < until:
        delay = slot - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = time.perf_counter()
        try:
            async with session.get(path) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            polls.failures[type(exc).__name__] += 1
        else:
            latency = (time.perf_counter() - sent) * 1000
            polls.latencies_ms.append(latency)
            polls.statuses[response.status] += 1
            status = json.loads(body)["status"] if response.status == 200 else "?"
            polls.job_statuses[status] += 1
            polls.samples.append((sent - origin, latency, status))
        slot += every
    return polls


async def follow(
    client: httpx.AsyncClient, ws_base: str, job_id: str, *, delay: float, timeout: float
) -> Follower:
    """One WebSocket follower of the job, from its ticket to ``job.finished``."""
    follower = Follower()
    await asyncio.sleep(delay)
    try:
        response = await client.post("/api/v1/ws-ticket/")
        response.raise_for_status()
        url = f"{ws_base}/ws/jobs/{job_id}/?ticket={response.json()['ticket']}"
        async with asyncio.timeout(timeout):
            async with websockets.connect(url, open_timeout=60, max_size=None) as socket:
                async for raw in socket:
                    message = json.loads(raw)
                    follower.messages[message["type"]] += 1
                    if message["type"] == "job.finished":
                        follower.finished_at = time.time()
                follower.close_code = socket.close_code
    except Exception as exc:  # reported per follower
        follower.error = f"{type(exc).__name__}: {exc}"[:200]
    return follower


async def loop_lag(until: float, lags_ms: list[float]) -> None:
    """How late this process's event loop wakes a sleeper: it adds to latencies."""
    while time.perf_counter() < until:
        expected = time.perf_counter() + LAG_TICK_SECONDS
        await asyncio.sleep(LAG_TICK_SECONDS)
        lags_ms.append(max(time.perf_counter() - expected, 0.0) * 1000)


@dataclass(slots=True)
class Load:
    polls: Polls
    followers: list[Follower]
    lags_ms: list[float]
    window_cpu_seconds: float
    window_seconds: float
    client_cpu_seconds: float


async def run_load(
    args: argparse.Namespace, base_url: str, token: str, job_id: str, web_pid: int | None
) -> Load:
    headers = {"Authorization": f"Token {token}"}
    path = f"/api/v1/jobs/{job_id}/"
    rng = random.Random(SEED)
    ws_base = base_url.replace("http", "ws", 1)
    # The pollers are aiohttp sessions, each with one connection: httpx spends
    # ~0.8 ms of CPU per request where aiohttp spends ~0.2 ms, and this client
    # shares the machine's cores with the server it measures. They exist before
    # the clock starts, so that making them does not count in any latency.
    sessions = [
        aiohttp.ClientSession(
            base_url,
            headers=headers,
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        for _ in range(args.clients)
    ]
    ticket_client = httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=60,
        limits=httpx.Limits(max_connections=args.followers + 10),
    )
    lags_ms: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        for session in sessions:
            await stack.enter_async_context(session)
        await stack.enter_async_context(ticket_client)
        # One unmeasured poll per client, 20 at a time: it opens the client's
        # keep-alive connection and warms the web processes (lazy imports,
        # database pools), as a server and clients running for a while are.
        gate = asyncio.Semaphore(20)

        async def warm(session: aiohttp.ClientSession) -> None:
            async with gate, session.get(path) as response:
                await response.read()

        await asyncio.gather(*(warm(session) for session in sessions))
        cpu_before = tree_cpu_seconds(web_pid) if web_pid else 0.0
        client_cpu_before = time.process_time()
        start = time.perf_counter()
        until = start + args.seconds
        followers = [
            asyncio.create_task(
                follow(
                    ticket_client,
                    ws_base,
                    job_id,
                    delay=rng.random() * args.ramp,
                    timeout=args.seconds + args.finish_timeout,
                )
            )
            for _ in range(args.followers)
        ]
        lag = asyncio.create_task(loop_lag(until, lags_ms))
        pollers = [
            poll(
                session,
                path,
                origin=start,
                start=start + rng.random() * args.interval,
                until=until,
                every=args.interval,
            )
            for session in sessions
        ]
        results = await asyncio.gather(*pollers)
        window_seconds = time.perf_counter() - start
        window_cpu = (tree_cpu_seconds(web_pid) - cpu_before) if web_pid else 0.0
        client_cpu = time.process_time() - client_cpu_before
        await lag
        print(
            f"  polling window over ({window_seconds:.1f} s); waiting for the followers to see "
            "the job end ..."
        )
        done = await asyncio.gather(*followers)
    polls = Polls()
    for result in results:
        polls.latencies_ms.extend(result.latencies_ms)
        polls.statuses.update(result.statuses)
        polls.failures.update(result.failures)
        polls.job_statuses.update(result.job_statuses)
        polls.samples.extend(result.samples)
    return Load(polls, list(done), lags_ms, window_cpu, window_seconds, client_cpu)


# --- Reading the results --------------------------------------------------------------------

TRACEBACK = re.compile(r"^Traceback \(most recent call last\):$", re.MULTILINE)


def tracebacks(log_text: str) -> Counter[str]:
    """The tracebacks in a log, counted by their exception (the first line
    after the header that is not indented); a chained one counts each part."""
    found: Counter[str] = Counter()
    for match in TRACEBACK.finditer(log_text):
        lines = log_text[match.end() :].splitlines()[1:]
        exception = next((line for line in lines if line and not line[0].isspace()), "?")
        found[exception[:160]] += 1
    return found


def web_processes(pid: int) -> int:
    """Processes serving HTTP: uvicorn's spawned workers, or the one started."""
    spawned = 0
    for kid in descendants(pid):
        with contextlib.suppress(OSError), open(f"/proc/{kid}/cmdline", "rb") as cmdline:
            spawned += b"multiprocessing.spawn" in cmdline.read()
    return spawned or 1


def in_process_cpu(env: dict[str, str], token: str, job_id: str) -> dict[str, Any]:
    """``bench/_status_cpu.py`` against the bench's database, Redis and job."""
    return script_figures("_status_cpu.py", token, job_id, "--requests", str(CPU_REQUESTS), env=env)


def print_polls(load: Load, args: argparse.Namespace) -> None:
    polls = load.polls
    ms = polls.latencies_ms
    print(f"\nPolling: {args.clients} clients x GET /api/v1/jobs/{{id}}/ every {args.interval:g} s")
    print(f"  polls:          {polls.count:,} in {load.window_seconds:.1f} s")
    if ms:
        print(
            f"  latency:        p50 {nearest_rank(ms, 50):.1f} ms, p95 {nearest_rank(ms, 95):.1f}"
            f" ms, p99 {nearest_rank(ms, 99):.1f} ms, max {max(ms):.1f} ms"
        )
    print(f"  statuses:       {dict(sorted(polls.statuses.items()))}")
    print(f"  no answer:      {dict(polls.failures) or 0}")
    print(f"  errors:         {polls.errors} ({polls.server_errors} x 5xx)")
    print(f"  job as polled:  {dict(polls.job_statuses)}")
    by_status: dict[str, list[float]] = {}
    for _, latency, status in polls.samples:
        by_status.setdefault(status, []).append(latency)
    for status, values in sorted(by_status.items()):
        print(
            f"    answered {status!r:<12s} {len(values):>6,} polls: p50 "
            f"{nearest_rank(values, 50):.1f} ms, p99 {nearest_rank(values, 99):.1f} ms"
        )
    print("  p99 per 10 s of the window:", end="")
    for start in range(0, int(load.window_seconds), 10):
        values = [ms for sent, ms, _ in polls.samples if start <= sent < start + 10]
        if values:
            print(f" {nearest_rank(values, 99):.0f}", end="")
    print(" ms")
    if load.lags_ms:
        print(
            f"  this process's event loop late by p99 {nearest_rank(load.lags_ms, 99):.1f} ms, "
            f"max {max(load.lags_ms):.1f} ms (part of every latency above); its CPU "
            f"{load.client_cpu_seconds:.1f} s"
        )


def print_followers(followers: list[Follower], job: dict[str, Any]) -> int:
    got = [f for f in followers if f.finished_at is not None]
    print(f"\nWebSocket followers: {len(followers)}")
    print(f"  got job.finished: {len(got)}/{len(followers)}")
    if got and job.get("finished_at"):
        ended = parse_time(job["finished_at"]).timestamp()
        delays = [max(f.finished_at - ended, 0.0) for f in got if f.finished_at is not None]
        print(
            f"  job.finished after the job's finished_at: median {nearest_rank(delays, 50):.2f} s,"
            f" max {max(delays):.2f} s"
        )
    messages: Counter[str] = Counter()
    for follower in followers:
        messages.update(follower.messages)
    print(f"  messages received: {dict(messages)}")
    codes = Counter(f.close_code for f in followers if f.error is None)
    print(f"  close codes: {dict(codes)}")
    errors = Counter(f.error for f in followers if f.error)
    for error, count in errors.most_common(5):
        print(f"  error x{count}: {error}")
    return len(got)


# --- Main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"Bench: {args.clients} clients polling a job's status and {args.followers} following "
        f"its WebSocket, during a {args.rows:,}-row data.import."
    )
    with scratch_and_database("bulkyard-bench-status-", keep=args.keep) as scratch:
        csv_path = scratch / "contacts.csv"
        write_contacts(csv_path, args.rows, SEED)
        env = service_env(scratch, contacts_size_estimate(args.rows))
        if args.web_processes is not None:
            env["WEB_CONCURRENCY"] = str(args.web_processes)
        if args.worker_nice is not None:
            env["BULKYARD_WORKER_NICE"] = str(args.worker_nice)
        if args.log_level is not None:
            env["LOG_LEVEL"] = args.log_level
        with api_and_worker(env, scratch, concurrency=2, run_command=True) as (client, _):
            web_pid = child_running("config.web")
            processes = web_processes(web_pid) if web_pid else 0
            print(f"web server (python -m config.web): {processes} process(es)")
            token = str(client.headers["Authorization"]).split()[-1]
            with csv_path.open("rb") as upload:
                response = client.post(
                    "/api/v1/jobs/",
                    data={
                        "kind": "data.import",
                        "params": json.dumps({"target": "contacts"}),
                        "chunk_size": str(args.chunk_size),
                    },
                    files={"file": (csv_path.name, upload, "text/csv")},
                )
            if response.status_code != 202:
                raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
            job_id = response.json()["id"]
            print(f"job {job_id} accepted; load for {args.seconds:g} s ...")
            load = uvloop.run(run_load(args, str(client.base_url), token, job_id, web_pid))
            job = client.get(f"/api/v1/jobs/{job_id}/").json()
            deadline = time.monotonic() + 60
            while job["status"] not in FINAL_STATUSES and time.monotonic() < deadline:
                time.sleep(1)
                job = client.get(f"/api/v1/jobs/{job_id}/").json()
            if job["status"] != "succeeded" or job["succeeded_items"] != args.rows:
                raise RuntimeError(
                    f"job {job_id} ended {job['status']} with {job['succeeded_items']} "
                    f"succeeded rows (expected {args.rows:,}): {json.dumps(job)[:2000]}"
                )
            print("\nIn-process CPU of one status read (bench/_status_cpu.py) ...")
            cpu = in_process_cpu(env, token, job_id)
        server_log = (scratch / "uvicorn.log").read_text(errors="replace")
        worker_log = (scratch / "worker.log").read_text(errors="replace")

        started, finished = parse_time(job["started_at"]), parse_time(job["finished_at"])
        job_seconds = (finished - started).total_seconds()
        print(
            f"\nJob: {job['status']}, {job['succeeded_items']:,} rows; import "
            f"{job_seconds:.1f} s (planned -> finished, {args.rows / job_seconds:,.0f} rows/s)"
        )
        print_polls(load, args)
        if args.samples is not None:
            with args.samples.open("w") as out:
                out.write("sent_s,latency_ms,job_status\n")
                for sent, latency, status in sorted(load.polls.samples):
                    out.write(f"{sent:.3f},{latency:.2f},{status}\n")
        per_poll = load.window_cpu_seconds / max(load.polls.count, 1) * 1000
        print(
            f"  web processes' CPU over the window: {load.window_cpu_seconds:.1f} s = "
            f"{per_poll:.2f} ms per poll (with the followers' share: tickets, sockets, pushes)"
        )
        finished_count = print_followers(load.followers, job)
        print(
            f"\nIn-process: {cpu['requests']:,} status reads, CPU {cpu['cpu_ms']:.2f} ms each "
            f"(median of rounds; best round {cpu['cpu_ms_min']:.2f} ms), wall "
            f"{cpu['wall_ms']:.2f} ms"
        )
        server_tracebacks = tracebacks(server_log)
        worker_tracebacks = tracebacks(worker_log)
        print(f"\nServer log: {sum(server_tracebacks.values())} traceback(s)")
        for exception, count in server_tracebacks.most_common(10):
            print(f"  x{count}: {exception}")
        print(f"Worker log: {sum(worker_tracebacks.values())} traceback(s) (not in the goal)")
        for exception, count in worker_tracebacks.most_common(5):
            print(f"  x{count}: {exception}")

        polls = load.polls
        p99 = nearest_rank(polls.latencies_ms, 99) if polls.latencies_ms else float("inf")
        checks = [
            ("poll latency p99", f"{p99:.1f} ms", f"< {TARGET_P99_MS:g} ms", p99 < TARGET_P99_MS),
            ("poll errors", str(polls.errors), "0", polls.errors == 0),
            ("poll 5xx", str(polls.server_errors), "0", polls.server_errors == 0),
            (
                "followers got job.finished",
                f"{finished_count}/{args.followers}",
                f"{args.followers}/{args.followers}",
                finished_count == args.followers,
            ),
            (
                "tracebacks in server log",
                str(sum(server_tracebacks.values())),
                "0",
                not server_tracebacks,
            ),
            (
                "CPU per status read",
                f"{cpu['cpu_ms']:.2f} ms",
                f"<= {TARGET_CPU_MS:g} ms",
                cpu["cpu_ms"] <= TARGET_CPU_MS,
            ),
        ]
        print()
        print_checks(checks)
        passed = all(check[3] for check in checks)
        print(f"verdict: {'PASS' if passed else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
