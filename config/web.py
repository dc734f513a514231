"""The web server: uvicorn serving ``config.asgi`` (HTTP and WebSockets), in
several processes where the machine has the cores.

Run as ``python -m config.web`` (the Procfile and the Compose file do). One
Python process uses one core at most, so a single process caps the API at one
core however many the machine has, and under many clients requests queue
behind each other (docs/performance.md: status reads under load).
"""

import logging
import logging.config
import os

import uvicorn

from config.env import BEHIND_TLS_PROXY, env
from config.secret_key import secret_key_check_or_exit
from config.settings.cache import CACHES
from config.settings.logging import LOGGING

logger = logging.getLogger("bulkyard.web")

# The default stops here: each process keeps its own PostgreSQL pool (up to
# DATABASE_POOL_MAX_SIZE connections, 10), and 4 x 10 leaves room under
# PostgreSQL's default max_connections (100) for the workers. More processes
# are one setting away (WEB_CONCURRENCY).
MAX_DEFAULT_PROCESSES = 4


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def shared_cache() -> bool:
    """Whether the cache is one store for every process (Redis). Throttles
    and single-use WebSocket tickets are kept there; in process memory each
    process would keep its own."""
    return "redis" in str(CACHES["default"]["BACKEND"]).lower()


def web_processes(*, configured: int | None, cores: int, shared: bool) -> int:
    """How many processes serve HTTP: ``WEB_CONCURRENCY`` if set; else one
    per core up to MAX_DEFAULT_PROCESSES, and one without a shared cache (the
    embedded default), where several would each keep their own throttles
    and accept a WebSocket ticket once each."""
    if configured is not None:
        return max(configured, 1)
    if not shared:
        return 1
    return max(1, min(cores, MAX_DEFAULT_PROCESSES))


def main() -> None:
    logging.config.dictConfig(LOGGING)
    secret_key_check_or_exit()
    shared = shared_cache()
    processes = web_processes(
        configured=env.int("WEB_CONCURRENCY", default=None),
        cores=available_cores(),
        shared=shared,
    )
    if processes > 1 and not shared:
        logger.warning(
            "%d web processes without Redis: each keeps its own throttles and WebSocket "
            "tickets (set REDIS_URL)",
            processes,
        )
    logger.info("serving HTTP with %d process(es)", processes)
    uvicorn.run(
        "config.asgi:application",
        host=env.str("BULKYARD_HOST", default="127.0.0.1"),
        port=env.int("BULKYARD_PORT", default=8000),
        workers=processes,
        # Each process logs as the others do (config/settings/logging.py); the
        # access log is Bulkyard's own (bulkyard/core/access.py), which knows
        # the route and the user.
        log_config=LOGGING,
        access_log=False,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default, which let
        # any local client choose the address that sign-in lockouts and
        # throttles count. Only behind a proxy that sets it (as Django does).
        proxy_headers=BEHIND_TLS_PROXY,
    )


if __name__ == "__main__":
    main()
