"""A real S3 API for the tests: moto's server in a subprocess of its own (its
own interpreter, not sharing pytest's GIL; workers started later need only its
URL and the credentials in ``env``)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.support import servers

BUCKET = "bulkyard-test"
REGION = "us-east-1"
# moto checks no signature: any credentials do, but boto3 wants some.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass
class S3Server:
    endpoint_url: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, **config: Any) -> Any:
        # Path-style: a virtual-host name (bulkyard-test.127.0.0.1) does not resolve.
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def settings(self, prefix: str) -> dict[str, str]:
        """The environment a Bulkyard process needs to keep its files on this
        server, under ``prefix``; credentials as boto3 finds them."""
        return {
            "BULKYARD_STORAGE": "s3",
            "BULKYARD_S3_BUCKET": BUCKET,
            "BULKYARD_S3_ENDPOINT_URL": self.endpoint_url,
            "BULKYARD_S3_REGION": REGION,
            "BULKYARD_S3_PREFIX": prefix,
            # A virtual-host name (bucket.127.0.0.1) does not resolve (moto#564).
            "BULKYARD_S3_ADDRESSING_STYLE": "path",
            **CREDENTIALS,
        }

    def options(self, **overrides: Any) -> dict[str, Any]:
        """The storage's options, under a prefix of its own (tests share the bucket)."""
        return {
            "bucket_name": BUCKET,
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "addressing_style": "path",
            "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "location": f"t/{uuid.uuid4().hex}",
            "file_overwrite": False,
            **overrides,
        }


def start(log: Path) -> S3Server:
    port = servers.free_port()
    env = {**os.environ, **CREDENTIALS}
    proc = servers.start(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env, log=log
    )
    server = S3Server(endpoint_url=f"http://127.0.0.1:{port}", proc=proc)
    servers.wait_http(f"{server.endpoint_url}/moto-api/", proc=proc, log=log)
    server.client().create_bucket(Bucket=BUCKET)
    return server


def use_for_default_storage(settings: Any, server: S3Server, **overrides: Any) -> dict[str, Any]:
    """Point Django's default storage (pytest-django's ``settings``) at the
    server, under a prefix of its own unless ``overrides`` name one; Django
    forgets the storage it made. Returns the storage's options."""
    options = server.options(**overrides)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "bulkyard.core.storage.s3.BulkyardS3Storage", "OPTIONS": options},
    }
    return options


def keys(storage: Any) -> list[str]:
    """Every object under the storage's prefix, by name (relative to it)."""
    prefix = f"{storage.location}/"
    pages = storage.client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=prefix
    )
    return sorted(
        entry["Key"][len(prefix) :] for page in pages for entry in page.get("Contents", [])
    )


def requests(storage: Any) -> list[tuple[str, str]]:
    """``(operation, object name)`` of every request the storage's client (this
    thread's) sends from now on; ``Range`` requests as ``GetObject bytes=a-b``."""
    sent: list[tuple[str, str]] = []
    prefix = f"{storage.location}/"

    def record(request: Any, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        ranged = request.headers.get("Range")
        if ranged:
            operation = f"{operation} {ranged.decode() if isinstance(ranged, bytes) else ranged}"
        path = request.url.split("?", 1)[0]
        sent.append((operation, path.split(prefix, 1)[-1] if prefix in path else ""))

    storage.client.meta.events.register("before-send.s3", record)
    return sent


def bytes_served(storage: Any) -> list[int]:
    """The body sizes (``Content-Length``) of the objects the storage's client
    (this thread's) gets from now on: what the server sends, whatever was asked."""
    served: list[int] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        served.append(int(parsed.get("ContentLength", 0)))

    storage.client.meta.events.register("after-call.s3.GetObject", record)
    return served
