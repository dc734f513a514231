"""Where job files live: BULKYARD_STORAGE and the BULKYARD_S3_* variables
(config/settings/storage.py)."""

import os
import subprocess
import sys
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, StorageHandler

from config.settings.storage import default_storage, part_size
from tests.support import s3
from tests.support.servers import ROOT

MIB = 1024 * 1024
VALID = {
    "kind": "s3",
    "bucket": s3.BUCKET,
    "endpoint_url": "",
    "region": "",
    "prefix": "",
    "addressing_style": "auto",
    "part_bytes": 8 * MIB,
    "checksums": "when_supported",
}


def _storage(**values):
    return StorageHandler({"default": default_storage(**{**VALID, **values})})["default"]


def test_the_default_is_todays_local_folder():
    assert isinstance(_storage(kind="local"), FileSystemStorage)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"kind": "gcs"}, "BULKYARD_STORAGE"),
        ({"bucket": ""}, "BULKYARD_S3_BUCKET"),
        ({"addressing_style": "sideways"}, "BULKYARD_S3_ADDRESSING_STYLE"),
        ({"checksums": "never"}, "BULKYARD_S3_CHECKSUMS"),
        ({"prefix": "bulkyard/../other"}, "BULKYARD_S3_PREFIX"),
    ],
)
def test_a_value_that_cannot_work_is_refused_naming_its_variable(values, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        default_storage(**{**VALID, **values})


@pytest.mark.parametrize("text", ["8MiB", str(4 * MIB), str(6 * 1024 * MIB)])
def test_a_part_size_s3_would_refuse_is_refused_naming_its_variable(text):
    with pytest.raises(ImproperlyConfigured, match="BULKYARD_S3_PART_BYTES"):
        part_size(text)


def test_a_part_size_is_read_in_bytes():
    assert part_size(str(16 * MIB)) == 16 * MIB


@pytest.fixture
def aws_credentials(monkeypatch) -> None:
    """The credentials in the standard AWS variables, where boto3 looks first."""
    for name, value in s3.CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("aws_credentials")
def test_s3_stores_under_the_prefix_with_the_credentials_from_the_aws_variables(s3_server):
    prefix = f"t/{uuid.uuid4().hex}"
    storage = _storage(
        endpoint_url=s3_server.endpoint_url,
        region=s3.REGION,
        prefix=f"/{prefix}/",
        addressing_style="path",
    )

    storage.save("jobs/1/input.csv", ContentFile(b"id\n1\n"))

    stored = s3_server.client().get_object(Bucket=s3.BUCKET, Key=f"{prefix}/jobs/1/input.csv")
    assert stored["Body"].read() == b"id\n1\n"


@pytest.mark.usefixtures("aws_credentials")
@pytest.mark.parametrize(
    ("checksums", "sends_crc"), [("when_supported", True), ("when_required", False)]
)
def test_the_checksum_mode_decides_whether_uploads_carry_a_crc(s3_server, checksums, sends_crc):
    storage = _storage(
        endpoint_url=s3_server.endpoint_url,
        region=s3.REGION,
        prefix=f"t/{uuid.uuid4().hex}",
        addressing_style="path",
        checksums=checksums,
    )
    headers: list[str] = []
    storage.client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: headers.extend(request.headers.keys())
    )

    with storage.open("a.txt", "wb") as file:
        file.write(b"a")

    assert any(h.lower().startswith("x-amz-checksum-") for h in headers) == sends_crc


def _settings_process(**variables: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter loading the settings with these variables."""
    env = {**os.environ, "BULKYARD_ENV_FILE": os.devnull, **variables}
    script = (
        "import django; django.setup()\n"
        "from django.core.files.storage import storages\n"
        "s = storages['default']\n"
        "print(type(s).__name__, s.bucket_name, s.location, s.part_bytes, s.checksums)"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_variables_make_the_default_storage_the_s3_one():
    started = _settings_process(
        BULKYARD_STORAGE="s3",
        BULKYARD_S3_BUCKET="jobs-bucket",
        BULKYARD_S3_PREFIX="bulkyard",
        BULKYARD_S3_PART_BYTES=str(16 * MIB),
        BULKYARD_S3_CHECKSUMS="when_required",
    )

    assert started.stdout.split() == [
        "BulkyardS3Storage",
        "jobs-bucket",
        "bulkyard",
        str(16 * MIB),
        "when_required",
    ], started.stderr


def test_a_bad_variable_stops_the_start_with_its_name():
    started = _settings_process(BULKYARD_STORAGE="s3", BULKYARD_S3_BUCKET="")

    assert started.returncode != 0
    assert "BULKYARD_STORAGE=s3 needs BULKYARD_S3_BUCKET" in started.stderr
