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

from config.settings.storage import (
    default_storage,
    download_mode,
    multi_host_check,
    part_size,
    url_seconds,
)
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
        ({"endpoint_url": "minio:9000"}, "BULKYARD_S3_ENDPOINT_URL"),
        ({"public_endpoint_url": "files.example.com"}, "BULKYARD_S3_PUBLIC_ENDPOINT_URL"),
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


def test_the_public_endpoint_goes_to_the_storage_for_signing_links():
    options = default_storage(**{**VALID, "public_endpoint_url": "https://files.example.com"})

    assert options["OPTIONS"]["public_endpoint_url"] == "https://files.example.com"


def test_a_download_mode_other_than_redirect_or_stream_is_refused():
    with pytest.raises(ImproperlyConfigured, match="BULKYARD_S3_DOWNLOADS"):
        download_mode("proxy")


@pytest.mark.parametrize("text", ["5m", "0", str(7 * 24 * 3600 + 1)])
def test_a_link_lifetime_s3_would_refuse_is_refused_naming_its_variable(text):
    with pytest.raises(ImproperlyConfigured, match="BULKYARD_S3_URL_SECONDS"):
        url_seconds(text)


def test_several_hosts_on_an_unshared_local_folder_are_refused_naming_the_fix():
    with pytest.raises(ImproperlyConfigured) as refused:
        multi_host_check(kind="local", multi_host=True, shared_media=False)

    for named in ("BULKYARD_MULTI_HOST", "DJANGO_MEDIA_ROOT", "BULKYARD_SHARED_MEDIA", "=s3"):
        assert named in str(refused.value)


@pytest.mark.parametrize(
    ("kind", "multi_host", "shared_media"),
    [("local", False, False), ("local", True, True), ("s3", True, False)],
)
def test_one_host_a_shared_folder_or_object_storage_start(kind, multi_host, shared_media):
    multi_host_check(kind=kind, multi_host=multi_host, shared_media=shared_media)


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


S3_SUMMARY = (
    "from django.core.files.storage import storages\n"
    "s = storages['default']\n"
    "print(type(s).__name__, s.bucket_name, s.location, s.part_bytes, s.checksums)"
)


def _settings_process(
    script: str = S3_SUMMARY, **variables: str
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter loading the settings with these variables, then
    running ``script``."""
    env = {**os.environ, "BULKYARD_ENV_FILE": os.devnull, **variables}
    script = f"import django; django.setup()\n{script}"
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


def test_several_hosts_on_an_unshared_local_folder_stop_the_start():
    started = _settings_process(BULKYARD_STORAGE="local", BULKYARD_MULTI_HOST="true")

    assert started.returncode != 0
    assert "ImproperlyConfigured: BULKYARD_MULTI_HOST=true with BULKYARD_STORAGE=local" in (
        started.stderr
    )


def test_several_hosts_on_a_folder_said_to_be_shared_start():
    started = _settings_process(
        "", BULKYARD_STORAGE="local", BULKYARD_MULTI_HOST="true", BULKYARD_SHARED_MEDIA="true"
    )

    assert started.returncode == 0, started.stderr


def test_a_bad_variable_stops_the_start_with_its_name():
    started = _settings_process(BULKYARD_STORAGE="s3", BULKYARD_S3_BUCKET="")

    assert started.returncode != 0
    assert "BULKYARD_STORAGE=s3 needs BULKYARD_S3_BUCKET" in started.stderr
