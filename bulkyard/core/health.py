"""Reachability of what the service depends on: database, broker, workers."""

import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from config.celery import app as celery_app


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


def health_report() -> tuple[bool, dict[str, Any]]:
    """``(serving, report)``: serving is false when the database or the broker is
    unreachable. Missing workers only degrade the service: jobs are still
    accepted and wait in the queue."""
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    checks["workers"] = _timed(_workers) if checks["broker"]["ok"] else {"ok": False}
    serving = checks["database"]["ok"] and checks["broker"]["ok"]
    state = "ok" if serving and checks["workers"]["ok"] else ("degraded" if serving else "down")
    return serving, {"status": state, "checks": checks}
