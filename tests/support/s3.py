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
