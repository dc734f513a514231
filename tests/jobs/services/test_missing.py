"""A job's unreadable input as a job error (bulkyard/jobs/services/missing.py)."""

from django.core.files.storage import FileSystemStorage

from bulkyard.core.storage.s3 import BulkyardS3Storage
from bulkyard.jobs.services.missing import input_failure


def test_an_input_missing_from_a_local_folder_names_the_folder_and_the_fix(tmp_path):
    storage = FileSystemStorage(location=tmp_path / "media")

    code, message = input_failure(FileNotFoundError(2, "No such file"), storage=storage)

    assert code == "input_missing"
    assert f"DJANGO_MEDIA_ROOT={tmp_path / 'media'}" in message
    assert "must share DJANGO_MEDIA_ROOT or use object storage" in message


def test_an_input_missing_from_a_bucket_names_the_bucket_and_prefix():
    # Built offline: naming the bucket sends no request.
    storage = BulkyardS3Storage(bucket_name="jobs-bucket", location="bulkyard")

    code, message = input_failure(FileNotFoundError("No such object"), storage=storage)

    assert code == "input_missing"
    assert "bucket=jobs-bucket prefix=bulkyard" in message


def test_another_read_error_stays_input_unreadable_with_its_reason(tmp_path):
    storage = FileSystemStorage(location=tmp_path)

    code, message = input_failure(PermissionError(13, "Permission denied"), storage=storage)

    assert (code, message) == (
        "input_unreadable",
        "cannot read the input: [Errno 13] Permission denied",
    )
