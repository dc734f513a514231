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
            # As the local folder does: a name already taken gets a suffix,
            # never silently replaces another job's file.
            "file_overwrite": False,
            "default_acl": None,
        },
    }


BULKYARD_STORAGE = env.str("BULKYARD_STORAGE", default="local")
BULKYARD_S3_BUCKET = env.str("BULKYARD_S3_BUCKET", default="")
BULKYARD_S3_ENDPOINT_URL = env.str("BULKYARD_S3_ENDPOINT_URL", default="")
BULKYARD_S3_REGION = env.str("BULKYARD_S3_REGION", default="")
BULKYARD_S3_PREFIX = env.str("BULKYARD_S3_PREFIX", default="")
BULKYARD_S3_ADDRESSING_STYLE = env.str("BULKYARD_S3_ADDRESSING_STYLE", default="auto")
BULKYARD_S3_PART_BYTES = part_size(env.str("BULKYARD_S3_PART_BYTES", default=str(8 * 1024 * 1024)))
BULKYARD_S3_CHECKSUMS = env.str("BULKYARD_S3_CHECKSUMS", default="when_supported")

DEFAULT_STORAGE = default_storage(
    kind=BULKYARD_STORAGE,
    bucket=BULKYARD_S3_BUCKET,
    endpoint_url=BULKYARD_S3_ENDPOINT_URL,
    region=BULKYARD_S3_REGION,
    prefix=BULKYARD_S3_PREFIX,
    addressing_style=BULKYARD_S3_ADDRESSING_STYLE,
    part_bytes=BULKYARD_S3_PART_BYTES,
    checksums=BULKYARD_S3_CHECKSUMS,
)
