"""What the throughput benches share: submit a job with a CSV upload and wait
for it, and print the verdicts against an issue's targets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from import_throughput import FINAL_STATUSES, POLL_SECONDS


def submit_csv_and_wait(
    client: httpx.Client, csv_path: Path, *, kind: str, params: dict[str, Any], chunk_size: int
) -> tuple[float, dict[str, Any]]:
    """Seconds from starting the multipart POST until polling sees a final
    status (every ``POLL_SECONDS``), and the job as the API shows it then."""
    started = time.perf_counter()
    with csv_path.open("rb") as upload:
        response = client.post(
            "/api/v1/jobs/",
            data={"kind": kind, "params": json.dumps(params), "chunk_size": str(chunk_size)},
            files={"file": (csv_path.name, upload, "text/csv")},
        )
    if response.status_code != 202:
        raise RuntimeError(f"POST answered {response.status_code}: {response.text[:2000]}")
    url = response.json()["url"]
    while (job := client.get(url).json())["status"] not in FINAL_STATUSES:
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started, job


def print_checks(checks: list[tuple[str, str, str, bool]]) -> None:
    print(f"  {'check':<30s} {'measured':>12s} {'target':>10s}  verdict")
    for name, measured, target, passed in checks:
        print(f"  {name:<30s} {measured:>12s} {target:>10s}  {'PASS' if passed else 'FAIL'}")
