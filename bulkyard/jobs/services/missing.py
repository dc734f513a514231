"""What a job's unreadable input means, as a job error. A missing input is
told apart from one that cannot be read: on a deployment whose hosts do not
share the storage (a local folder on each, a different bucket or prefix) the
file the web process stored is simply not where the worker looks, and the
error must say so rather than look like a passing I/O fault (decision 0028)."""

from typing import IO

from django.core.files.storage import FileSystemStorage, Storage


class InputMissing(FileNotFoundError):
    """A chunk's input is not in this host's storage. Raised as a chunk error:
    the chunk is tried again (another worker may share the web's storage) and,
    once out of attempts, fails with this message rather than an errno."""


def chunk_input_open(storage: Storage, name: str) -> IO[bytes]:
    """The job's input ``name`` opened for a chunk's read."""
    try:
        return storage.open(name, "rb")
    except FileNotFoundError as exc:
        raise InputMissing(input_failure(exc, storage=storage)[1]) from exc


def input_failure(exc: OSError, *, storage: Storage) -> tuple[str, str]:
    """The job error (code, message) for ``exc``, raised while reading the input."""
    if not isinstance(exc, FileNotFoundError):
        return "input_unreadable", f"cannot read the input: {exc}"
    if isinstance(storage, FileSystemStorage):
        return "input_missing", (
            "the job's input is not in this host's storage "
            f"(DJANGO_MEDIA_ROOT={storage.location}): "
            "web and workers must share DJANGO_MEDIA_ROOT or use object storage"
        )
    where = " ".join(
        f"{label}={value}"
        for label, value in (
            ("bucket", getattr(storage, "bucket_name", "")),
            ("prefix", getattr(storage, "location", "")),
        )
        if value
    )
    return "input_missing", (
        f"the job's input is not in this host's storage ({where or type(storage).__name__}): "
        "web and workers must use the same bucket and prefix"
    )
