"""Job files on S3 or an S3-compatible store (MinIO, Ceph RGW): django-storages'
backend with streaming reads and writes, server-side copies and deletes by
prefix (docs/decisions/0027-object-storage.md)."""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from bulkyard.core.storage import Deleted
from bulkyard.core.storage.multipart import DEFAULT_PART_BYTES, MultipartWriter
from bulkyard.core.storage.ranged import RangedReader

# S3's most keys per DeleteObjects request (and per ListObjectsV2 page).
DELETE_BATCH = 1000
COMPRESSED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}


CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30


class BulkyardS3Storage(S3Storage):
    """``open(name, "rb")`` gives a :class:`RangedReader`, ``open(name, "wb")`` a
    :class:`MultipartWriter`; other modes keep django-storages' S3File.

    Options beyond django-storages' own: ``part_bytes`` (the writer's part
    size), ``checksums`` (botocore's ``request_checksum_calculation`` and
    ``response_checksum_validation``: ``when_required`` for the S3-compatible
    stores that reject the CRC checksums boto3 sends by default since 1.36)
    and ``public_endpoint_url`` (the host download links are signed for, when
    browsers reach the store by another name than the workers do).
    """

    part_bytes: int
    checksums: str
    public_endpoint_url: str | None
    client_config: Config

    def get_default_settings(self) -> dict[str, Any]:
        # django-storages accepts only the options named here.
        return {
            **super().get_default_settings(),
            "part_bytes": DEFAULT_PART_BYTES,
            "checksums": "when_supported",
            "public_endpoint_url": None,
        }

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        # Merged into whichever client config django-storages made (its own
        # carries the addressing style), never replacing it.
        self.client_config = self.client_config.merge(
            Config(
                request_checksum_calculation=self.checksums,
                response_checksum_validation=self.checksums,
                # botocore waits 60 s to connect and 60 s per read, three times:
                # a store gone dark would hold a web request or a chunk for
                # minutes. An outage is told quickly instead (a 503, a chunk
                # handed back without using an attempt: core/outages.py).
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"mode": "standard", "max_attempts": 3},
            )
        )

    @property
    def client(self) -> Any:
        """This thread's boto3 S3 client (django-storages keeps one per thread)."""
        return self.connection.meta.client

    @property
    def signing_client(self) -> Any:
        """The client that signs download links: for the public endpoint when
        there is one, as a signature covers the host name (browsers may reach
        the store at https://files.example.com, this process at
        http://minio:9000); always SigV4, which botocore would otherwise trade
        for the deprecated SigV2 in us-east-1 and on custom endpoints. Signing
        sends no request."""
        # django-storages' per-thread holder, which it leaves out when pickled.
        signer = getattr(self._connections, "signer", None)
        if signer is None:
            signer = self._create_session().client(
                "s3",
                region_name=self.region_name,
                use_ssl=self.use_ssl,
                endpoint_url=self.public_endpoint_url or self.endpoint_url,
                config=self.client_config.merge(Config(signature_version="s3v4")),
                verify=self.verify,
            )
            self._connections.signer = signer
        return signer

    def download_url(self, name: str, *, disposition: str, content_type: str, seconds: int) -> str:
        """A presigned GET of ``name`` valid for ``seconds``, whose answer carries
        this Content-Disposition and Content-Type (S3's ``response-*`` overrides,
        part of the signature): the browser saves the name it would have been
        given had the file been streamed through the app."""
        url: str = self.signing_client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket_name,
                "Key": self.key(name),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=seconds,
        )
        return url

    def key(self, name: str) -> str:
        """The object key of ``name``: under the storage's prefix, never outside it."""
        return str(self._normalize_name(clean_name(name)))

    def _open(self, name: str, mode: str = "rb") -> Any:
        key = self.key(name)
        if mode == "rb":
            try:
                return RangedReader(self.client, bucket=self.bucket_name, key=key)
            except ClientError as error:
                if _status(error) == 404:
                    raise FileNotFoundError(f"No such object: {key}") from error
                raise
        if mode == "wb":
            return MultipartWriter(
                self.client,
                bucket=self.bucket_name,
                key=key,
                part_bytes=self.part_bytes,
                extra=self._get_write_parameters(key),
                checksum_algorithm="CRC32" if self.checksums == "when_supported" else None,
            )
        return super()._open(name, mode)

    def _get_write_parameters(self, name: str, content: Any = None) -> dict[str, Any]:
        # django-storages marks "x.csv.gz" as CSV with Content-Encoding gzip; HTTP
        # clients then unpack it on download and save plain CSV under the .gz
        # name. A job's compressed file is a file of its compressed type.
        parameters: dict[str, Any] = super()._get_write_parameters(name, content)
        encoding = parameters.pop("ContentEncoding", None)
        if encoding:
            parameters["ContentType"] = COMPRESSED_TYPES.get(encoding, "application/octet-stream")
        return parameters

    def copy(self, source: str, target: str) -> None:
        """Copies ``source`` to ``target`` inside the store: no byte passes through
        this process (large objects are copied part by part, server-side)."""
        try:
            self.client.copy(
                {"Bucket": self.bucket_name, "Key": self.key(source)},
                self.bucket_name,
                self.key(target),
                Config=self.transfer_config,
            )
        except ClientError as error:
            if _status(error) == 404:
                raise FileNotFoundError(f"No such object: {self.key(source)}") from error
            raise

    def connections_reset(self) -> None:
        """Drops this process's clients (django-storages keeps one per thread,
        and a bucket object bound to the first), as its pickling does: a
        process forked after the parent used them must open its own."""
        self._connections = threading.local()
        self._unsigned_connections = threading.local()
        self._bucket = None

    def delete_prefix(self, prefix: str) -> Deleted:
        """Deletes every object whose name starts with ``prefix`` (a "folder" is
        ``"jobs/12/"``), a thousand per request; returns how many and their
        bytes (the listing gives each object's size)."""
        key_prefix = self.key(_refuse_everything(prefix))
        deleted = size = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket_name,
            Prefix=key_prefix,
            PaginationConfig={"PageSize": DELETE_BATCH},
        )
        for page in pages:
            listed = page.get("Contents", [])
            objects = [{"Key": entry["Key"]} for entry in listed]
            if not objects:
                continue
            answer = self.client.delete_objects(
                Bucket=self.bucket_name, Delete={"Objects": objects, "Quiet": True}
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise OSError(
                    f"{len(answer['Errors'])} objects under {key_prefix!r} were not deleted, "
                    f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
            deleted += len(objects)
            size += sum(int(entry.get("Size", 0)) for entry in listed)
        return Deleted(deleted, size)


def _refuse_everything(prefix: str) -> str:
    if not clean_name(prefix).strip("/"):
        raise ValueError("An empty prefix would delete every file: name a folder")
    return prefix


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
