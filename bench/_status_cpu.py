"""CPU of one ``GET /api/v1/jobs/{id}/`` in the web process, measured in-process.

Run by ``status_load.py`` in a subprocess with the bench's environment (the
bench database, Redis, throttling on). It drives ``config.asgi.application``
(the ASGI application uvicorn serves: the body-size middleware, Django's
middleware stack, DRF with token authentication and throttling, the view and
its JSON rendering) with plain ASGI messages, ``--requests`` times after a
warm-up, and prints one JSON line: CPU (``time.process_time``, every thread of
the process) and wall time per request, the status and the body's length.
What uvicorn adds around it (HTTP parsing, the socket) is not included here;
``status_load.py`` measures the whole web process under load as well.

    python bench/_status_cpu.py TOKEN JOB_ID [--requests 2000] [--warm-up 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.asgi import application  # sets Django up

ROUNDS = 10


async def get(path: str, token: str) -> tuple[int, bytes]:
    """One GET through the ASGI application, as uvicorn would call it."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Token {token}".encode()),
            (b"accept", b"*/*"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    requested = False
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def measure(token: str, job_id: str, *, requests: int, warm_up: int) -> dict[str, Any]:
    path = f"/api/v1/jobs/{job_id}/"
    for _ in range(warm_up):
        status, body = await get(path, token)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
    # Rounds, and their median: other processes on a shared machine slow a
    # round now and then, and process time rises with them (caches, clocks).
    per_round = max(requests // ROUNDS, 1)
    cpu_rounds, wall_rounds = [], []
    for _ in range(ROUNDS):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(per_round):
            await get(path, token)
        cpu_rounds.append((time.process_time() - cpu) / per_round * 1000)
        wall_rounds.append((time.perf_counter() - wall) / per_round * 1000)
    return {
        "requests": per_round * ROUNDS,
        "cpu_ms": statistics.median(cpu_rounds),
        "cpu_ms_min": min(cpu_rounds),
        "wall_ms": statistics.median(wall_rounds),
        "status": status,
        "body_bytes": len(body),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("token")
    parser.add_argument("job_id")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warm-up", type=int, default=200)
    args = parser.parse_args()
    figures = asyncio.run(
        measure(args.token, args.job_id, requests=args.requests, warm_up=args.warm_up)
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
