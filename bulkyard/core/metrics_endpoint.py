"""Serving the metrics: what a scrape adds up, and who may read it.

A scrape answers with every process's counters (the files of
``PROMETHEUS_MULTIPROC_DIR``, added up; without that folder, this process's
own) and the collectors apps register (the engine's gauges read from
PostgreSQL, ``bulkyard.jobs.metrics``).

Two places serve them:

- ``/metrics`` on the web server (``bulkyard.core.views.MetricsApi``): staff (session or API
  token), a scraper's ``Authorization: Bearer`` with ``BULKYARD_METRICS_TOKEN``,
  or a client in ``BULKYARD_METRICS_ALLOWED_NETWORKS``; anyone else gets
  ``401``/``403`` in the API's error shape.
- A worker's own port (``BULKYARD_METRICS_PORT``), for a worker host that
  runs no web server: the main process of ``celery worker`` serves its
  host's folder (``worker_metrics_serve``) with the same token and networks,
  without the database's gauges, which the web's endpoint already gives.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

_collectors: list[Any] = []


def register_scrape_collector(collector: Any) -> None:
    """Add a collector (an object whose ``collect()`` yields metric
    families) to every scrape of this process's endpoints."""
    if collector not in _collectors:
        _collectors.append(collector)


class _Scrape:
    """What one scrape reads; a registry-like object for ``generate_latest``."""

    def __init__(self, *, with_collectors: bool) -> None:
        self.with_collectors = with_collectors

    def collect(self) -> Iterator[Metric]:
        folder = settings.PROMETHEUS_MULTIPROC_DIR
        if folder and Path(folder).is_dir():
            # Read at each scrape: the files of every process, dead ones too
            # (a counter must not go back when a pool process is replaced).
            yield from MultiProcessCollector(CollectorRegistry(), path=folder).collect()
        else:
            yield from REGISTRY.collect()
        if self.with_collectors:
            for collector in list(_collectors):
                yield from collector.collect()


def exposition(accept: str | None, *, with_collectors: bool = True) -> tuple[bytes, str]:
    """The scrape's body and content type, in the format the scraper asked for
    (Prometheus text, or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(_Scrape(with_collectors=with_collectors)), content_type


def token_matches(authorization: str) -> bool:
    """Whether an ``Authorization`` header holds the metrics bearer token."""
    expected = settings.BULKYARD_METRICS_TOKEN
    scheme, _, given = authorization.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def address_allowed(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in _networks())


def _networks() -> list[str]:
    return list(settings.BULKYARD_METRICS_ALLOWED_NETWORKS)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would fill the worker's log."""


def _worker_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    allowed = token_matches(environ.get("HTTP_AUTHORIZATION", "")) or address_allowed(
        environ.get("REMOTE_ADDR")
    )
    if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    if not allowed:
        start_response(
            "401 Unauthorized",
            [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
        )
        return [b"a bearer token (BULKYARD_METRICS_TOKEN) or an allowed network is needed\n"]
    body, content_type = exposition(environ.get("HTTP_ACCEPT"), with_collectors=False)
    start_response("200 OK", [("Content-Type", content_type)])
    return [body]


def worker_metrics_serve(*, host: str, port: int) -> WSGIServer:
    """Serve this host's process metrics on ``host:port`` from a thread of
    the calling process (a Celery worker's main process)."""

    if not settings.BULKYARD_METRICS_TOKEN and not _networks():
        logger.warning(
            "metrics port %s: neither BULKYARD_METRICS_TOKEN nor "
            "BULKYARD_METRICS_ALLOWED_NETWORKS is set; every scrape will be refused",
            port,
        )
    server = make_server(host, port, _worker_app, ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    logger.info("serving metrics on %s:%s", host, server.server_port)
    return server
