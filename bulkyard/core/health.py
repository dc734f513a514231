"""Reachability of what the service depends on: database, broker, workers;
and, for staff, the mail server (which only ``email.send`` jobs need)."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from django.db import connection

from bulkyard.core.mail_server import mail_server_state
from config.celery import app as celery_app

# Pinging workers is a broadcast that waits up to a second: answer repeated
# probes (load balancers, dashboards) from a short-lived copy.
CACHE_SECONDS = 5.0
# The checks run side by side; one that has not answered by then counts as
# down, so that a probe gets its answer within 3 s whatever is away.
DEADLINE_SECONDS = 2.5
_cache_lock = threading.Lock()
_cached: tuple[float, bool, dict[str, Any]] | None = None


def _timed(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = {"ok": True, **check()}
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"vendor": connection.vendor}
    finally:
        connection.close()  # this check's thread's own connection


def _broker() -> dict[str, Any]:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"transport": conn.transport_cls}


def _workers() -> dict[str, Any]:
    replies = celery_app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no worker answered a ping within 1 s")
    return {"count": len(names), "names": names}


def _run_side_by_side(named: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, Any]:
    pool = ThreadPoolExecutor(max_workers=len(named), thread_name_prefix="health")
    futures = {name: pool.submit(_timed, check) for name, check in named.items()}
    wait(futures.values(), timeout=DEADLINE_SECONDS)
    # A check still waiting (a host that drops packets) is left to finish on
    # its own; the answer does not wait for it.
    pool.shutdown(wait=False)
    late = {"ok": False, "error": f"no answer within {DEADLINE_SECONDS} s"}
    return {name: f.result() if f.done() else dict(late) for name, f in futures.items()}


def health_report(*, fresh: bool = False) -> tuple[bool, dict[str, Any]]:
    """``(serving, report)``: serving is false when the database or the broker is
    unreachable. Missing workers only degrade the service: jobs are still
    accepted and wait in the queue. Reports are reused for ``CACHE_SECONDS``."""
    global _cached
    with _cache_lock:
        if not fresh and _cached and time.monotonic() - _cached[0] < CACHE_SECONDS:
            return _cached[1], _cached[2]
    checks = _run_side_by_side({"database": _database, "broker": _broker, "workers": _workers})
    serving = checks["database"]["ok"] and checks["broker"]["ok"]
    state = "ok" if serving and checks["workers"]["ok"] else ("degraded" if serving else "down")
    report = {"status": state, "checks": checks}
    with _cache_lock:
        _cached = (time.monotonic(), serving, report)
    return serving, report


def public_view(report: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: states only, no host names or error texts."""
    return {
        "status": report["status"],
        "checks": {name: {"ok": check["ok"]} for name, check in report["checks"].items()},
    }


def staff_view(report: dict[str, Any]) -> dict[str, Any]:
    """The whole report, and whether the mail server answers: ``reachable``,
    ``unreachable`` or ``not_used`` (a backend that needs no server). It does
    not change the status: only bulk email needs it, and jobs are accepted
    without it (decision 0023)."""
    return {**report, "mail_server": str(mail_server_state())}
