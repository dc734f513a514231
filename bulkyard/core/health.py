"""Reachability of what the service depends on: database, broker, workers."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from config.celery import app as celery_app

# Pinging workers is a broadcast that waits up to a second: answer repeated
# probes (load balancers, dashboards) from a short-lived copy.
CACHE_SECONDS = 5.0
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
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


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


def health_report(*, fresh: bool = False) -> tuple[bool, dict[str, Any]]:
    """``(serving, report)``: serving is false when the database or the broker is
    unreachable. Missing workers only degrade the service: jobs are still
    accepted and wait in the queue. Reports are reused for ``CACHE_SECONDS``."""
    global _cached
    with _cache_lock:
        if not fresh and _cached and time.monotonic() - _cached[0] < CACHE_SECONDS:
            return _cached[1], _cached[2]
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    checks["workers"] = _timed(_workers) if checks["broker"]["ok"] else {"ok": False}
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
