"""Where job files live: a local folder (the default) or an S3 bucket
(docs/deploy.md, "Object storage"; decision 0027). Credentials are not
settings here: boto3 finds them itself (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, a profile, an instance or pod role)."""

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.env import env

STORAGE_KINDS = ("local", "s3")
ADDRESSING_STYLES = ("auto", "path", "virtual")
CHECKSUM_MODES = ("when_supported", "when_required")
DOWNLOAD_MODES = ("redirect", "stream")
# SigV4's longest presigned URL: seven days.
MAX_URL_SECONDS = 7 * 24 * 3600
# S3's limits on a part: 5 MiB at least (all but the last), 5 GiB at most.
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_BYTES = 5 * 1024 * 1024 * 1024


def part_size(text: str) -> int:
    """BULKYARD_S3_PART_BYTES's value as a number of bytes S3 accepts for a part."""
    try:
        size = int(text)
    except ValueError:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_PART_BYTES must be a number of bytes (8388608 for 8 MiB), not {text!r}"
        ) from None
    if not MIN_PART_BYTES <= size <= MAX_PART_BYTES:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_PART_BYTES must be between {MIN_PART_BYTES} (5 MiB) and "
            f"{MAX_PART_BYTES} (5 GiB), S3's limits on a part; it is {size}"
        )
    return size


def default_storage(
    *,
    kind: str,
    bucket: str,
    endpoint_url: str,
    region: str,
    prefix: str,
    addressing_style: str,
    part_bytes: int,
    checksums: str,
    public_endpoint_url: str = "",
) -> dict[str, Any]:
    """``STORAGES["default"]`` for these values; a value that cannot work stops
    start-up, naming the variable, rather than failing at a job's first file."""
    if kind == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(f"BULKYARD_STORAGE must be one of {STORAGE_KINDS}, not {kind!r}")
    if not bucket:
        raise ImproperlyConfigured(
            "BULKYARD_STORAGE=s3 needs BULKYARD_S3_BUCKET, the bucket's name"
        )
    if addressing_style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_ADDRESSING_STYLE must be one of {ADDRESSING_STYLES}, "
            f"not {addressing_style!r}"
        )
    if checksums not in CHECKSUM_MODES:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_CHECKSUMS must be one of {CHECKSUM_MODES}, not {checksums!r}"
        )
    for name, url in (
        ("BULKYARD_S3_ENDPOINT_URL", endpoint_url),
        ("BULKYARD_S3_PUBLIC_ENDPOINT_URL", public_endpoint_url),
    ):
        if url and not url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(
                f"{name} must be an http:// or https:// URL (http://minio:9000), not {url!r}"
            )
    if ".." in prefix.split("/"):
        raise ImproperlyConfigured(f"BULKYARD_S3_PREFIX must not contain '..': {prefix!r}")
    return {
        "BACKEND": "bulkyard.core.storage.s3.BulkyardS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "location": prefix.strip("/"),
            "addressing_style": None if addressing_style == "auto" else addressing_style,
            "part_bytes": part_bytes,
            "checksums": checksums,
            # Download links are signed for the host browsers reach, which
            # may not be the one workers use (the signature covers the host).
            "public_endpoint_url": public_endpoint_url or None,
            # As the local folder does: a name already taken gets a suffix,
            # never silently replaces another job's file.
            "file_overwrite": False,
            "default_acl": None,
        },
    }


def download_mode(text: str) -> str:
    """BULKYARD_S3_DOWNLOADS's value: how an output on S3 reaches the client."""
    if text not in DOWNLOAD_MODES:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_DOWNLOADS must be one of {DOWNLOAD_MODES}, not {text!r}"
        )
    return text


def url_seconds(text: str) -> int:
    """BULKYARD_S3_URL_SECONDS's value: how long a download link stays valid."""
    try:
        seconds = int(text)
    except ValueError:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_URL_SECONDS must be a number of seconds (300), not {text!r}"
        ) from None
    if not 1 <= seconds <= MAX_URL_SECONDS:
        raise ImproperlyConfigured(
            f"BULKYARD_S3_URL_SECONDS must be between 1 and {MAX_URL_SECONDS} (seven days, "
            f"the longest a presigned URL can live); it is {seconds}"
        )
    return seconds


def multi_host_check(*, kind: str, multi_host: bool, shared_media: bool) -> None:
    """Refuses to start several hosts on local folders nobody said are shared:
    each host would keep the files it wrote, and a job planned on one and run
    on another would find no input (or a download no output)."""
    if multi_host and kind == "local" and not shared_media:
        raise ImproperlyConfigured(
            "BULKYARD_MULTI_HOST=true with BULKYARD_STORAGE=local: every host would keep "
            "its own files under DJANGO_MEDIA_ROOT. Put DJANGO_MEDIA_ROOT on a folder every "
            "web and worker host mounts (NFS or another shared volume) and say so with "
            "BULKYARD_SHARED_MEDIA=true, or use object storage (BULKYARD_STORAGE=s3)"
        )


BULKYARD_STORAGE = env.str("BULKYARD_STORAGE", default="local")
BULKYARD_S3_BUCKET = env.str("BULKYARD_S3_BUCKET", default="")
BULKYARD_S3_ENDPOINT_URL = env.str("BULKYARD_S3_ENDPOINT_URL", default="")
BULKYARD_S3_REGION = env.str("BULKYARD_S3_REGION", default="")
BULKYARD_S3_PREFIX = env.str("BULKYARD_S3_PREFIX", default="")
BULKYARD_S3_ADDRESSING_STYLE = env.str("BULKYARD_S3_ADDRESSING_STYLE", default="auto")
BULKYARD_S3_PART_BYTES = part_size(env.str("BULKYARD_S3_PART_BYTES", default=str(8 * 1024 * 1024)))
BULKYARD_S3_CHECKSUMS = env.str("BULKYARD_S3_CHECKSUMS", default="when_supported")
BULKYARD_S3_PUBLIC_ENDPOINT_URL = env.str("BULKYARD_S3_PUBLIC_ENDPOINT_URL", default="")
BULKYARD_S3_DOWNLOADS = download_mode(env.str("BULKYARD_S3_DOWNLOADS", default="redirect"))
BULKYARD_S3_URL_SECONDS = url_seconds(env.str("BULKYARD_S3_URL_SECONDS", default="300"))
BULKYARD_MULTI_HOST = env.bool("BULKYARD_MULTI_HOST", default=False)
BULKYARD_SHARED_MEDIA = env.bool("BULKYARD_SHARED_MEDIA", default=False)

multi_host_check(
    kind=BULKYARD_STORAGE, multi_host=BULKYARD_MULTI_HOST, shared_media=BULKYARD_SHARED_MEDIA
)

DEFAULT_STORAGE = default_storage(
    kind=BULKYARD_STORAGE,
    bucket=BULKYARD_S3_BUCKET,
    endpoint_url=BULKYARD_S3_ENDPOINT_URL,
    region=BULKYARD_S3_REGION,
    prefix=BULKYARD_S3_PREFIX,
    addressing_style=BULKYARD_S3_ADDRESSING_STYLE,
    part_bytes=BULKYARD_S3_PART_BYTES,
    checksums=BULKYARD_S3_CHECKSUMS,
    public_endpoint_url=BULKYARD_S3_PUBLIC_ENDPOINT_URL,
)
