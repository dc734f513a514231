"""The items of a finished job that never ran, as a file in its input's format
(bulkyard/jobs/unprocessed.py), on jobs moved through the engine in-process
(some on the local folder and on S3)."""

import gzip
import io
import json

import pytest
from django.http import HttpRequest

from bulkyard.jobs import services
from bulkyard.jobs.models import Job, JobStatus
from bulkyard.jobs.selectors import UnprocessedUnavailable
from bulkyard.jobs.services import finishing, planning
from bulkyard.jobs.unprocessed import COUNT_HEADER, unprocessed_response
from tests.support.engine import cancelled_job, created_job, job_input, run_every_chunk
from tests.support.files import zip_members, zip_of

pytestmark = pytest.mark.django_db

# Line numbers: a = 2, b = 3-5, c = 6, d = 7, e = 8, f = 9-10, g = 11.
CSV = (
    b"id,text\r\n"
    b"a,plain\r\n"
    b'b,"three\r\nlines, quoted\r\n""and"" escaped"\r\n'
    b"c,\xc3\xa9t\xc3\xa9\r\n"
    b'd,""\r\n'
    b"e,plain\r\n"
    b'f,"two\nlines"\r\n'
    b"g,last"
)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _download(job: Job):
    return unprocessed_response(job, request=HttpRequest())


def test_a_cancelled_csv_jobs_file_is_its_header_and_the_records_that_never_ran(
    user, sent, any_storage
):
    # Chunks of 3 items: [a b c] done; [d e f] stopped after d and f; [g] closed.
    job = cancelled_job(user, CSV, fmt="csv", stopped_after=[7, 9])

    body = _body(_download(job))

    assert body == b"id,text\r\ne,plain\r\ng,last"


def test_the_file_is_named_after_the_job_and_says_how_many_items_it_holds(user, sent):
    job = cancelled_job(user, CSV, fmt="csv", stopped_after=[7, 9])

    response = _download(job)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="job-{job.pk}-unprocessed.csv"'
    )
    assert response[COUNT_HEADER] == "2"


def test_a_json_lines_jobs_file_holds_the_lines_that_never_ran(user, sent):
    body = b"".join(b'{"n": %d}\n' % n for n in range(1, 8))
    job = cancelled_job(user, body, stopped_after=[4])

    response = _download(job)

    assert _body(response) == b'{"n": 5}\n{"n": 6}\n{"n": 7}\n'
    assert response["Content-Type"] == "application/x-ndjson"


def test_a_job_cancelled_while_queued_gives_its_whole_upload_as_it_came(user, sent, any_storage):
    upload = gzip.compress(CSV)
    job, _ = services.job_create(
        owner=user, kind="test.echo", params={}, job_input=job_input(upload, "csv")
    )
    services.job_cancel(job=job)

    response = _download(Job.objects.get(pk=job.pk))

    assert _body(response) == upload
    assert response["Content-Type"] == "application/gzip"
    assert response["Content-Disposition"].endswith('-unprocessed.csv.gz"')
    assert COUNT_HEADER not in response


def test_a_job_whose_input_failed_at_planning_gives_its_whole_input(user, sent):
    broken = b'id,text\na,"never closed\nb,x\n'
    job = created_job(user, broken, fmt="csv")
    assert planning.job_plan(job_id=str(job.pk)) == "failed"

    assert _body(_download(Job.objects.get(pk=job.pk))) == broken


def test_a_zip_jobs_file_is_an_archive_of_the_files_that_never_ran(user, sent, any_storage):
    files = {f"doc{n}.txt": f"document {n}".encode() for n in range(1, 6)}
    # Chunks of 2 files: the first stopped after doc1, the others closed.
    job = cancelled_job(
        user, zip_of(files), fmt="zip", kind="text.process", chunk_size=2, run=0, stopped_after=[1]
    )

    response = _download(job)

    assert zip_members(_body(response)) == {name: files[name] for name in list(files)[1:]}
    assert response["Content-Type"] == "application/zip"


def test_a_retry_jobs_file_is_json_lines_of_the_items_that_never_ran(user, sent):
    retry_file = b"".join(
        json.dumps({"n": n, "item": {"id": n}}).encode() + b"\n" for n in (4, 9, 12, 20)
    )
    job = cancelled_job(user, retry_file, fmt="retry", chunk_size=2, stopped_after=[12])

    body = _body(_download(job))

    assert [json.loads(line) for line in body.splitlines()] == [{"id": 20}]


def test_a_job_whose_items_all_ran_gives_a_file_of_none(user, sent):
    job = created_job(user, CSV, fmt="csv")
    planning.job_plan(job_id=str(job.pk))
    run_every_chunk(job)
    finishing.job_finalize(job_id=str(job.pk))
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED

    response = _download(job)

    assert _body(response) == b"id,text\r\n"
    assert response[COUNT_HEADER] == "0"


def test_a_job_whose_input_is_gone_is_refused_before_anything_is_sent(user, sent, any_storage):
    job = cancelled_job(user, CSV, fmt="csv")
    job.input_file.storage.delete(job.input_file.name)

    with pytest.raises(UnprocessedUnavailable) as refused:
        _download(job)
    assert refused.value.code == "input_gone"


def test_the_input_is_closed_once_the_file_is_sent(user, sent, monkeypatch):
    job = cancelled_job(user, CSV, fmt="csv")
    opened: list[io.IOBase] = []
    storage = job.input_file.storage
    open_file = storage.open

    def recorded(*args, **kwargs):
        opened.append(open_file(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(storage, "open", recorded)

    _body(_download(job))

    assert [f.closed for f in opened] == [True]
