"""The REST API's contract: validation, idempotency, ownership, limits.

These tests need no worker: jobs are created but, inside the test transaction,
never enqueued (planning is sent only after commit).
"""

import pytest
from django.core.cache import cache

from bulkyard.jobs.api.serializers import JobCreateInputSerializer
from bulkyard.jobs.inputs import MAX_ITEM_DEPTH
from bulkyard.jobs.models import Job
from bulkyard.jobs.throttling import JobCreateThrottle
from tests.support.jobs import submit_file, submit_items

pytestmark = pytest.mark.django_db

ITEMS = [{"id": 1, "text": "one"}, {"id": 2, "text": "two"}]


def _error(response):
    return response.json()["error"]


def test_inline_job_is_accepted_with_location_and_links(api_client):
    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}, format="json"
    )

    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["status"] == "queued"
    assert body["links"]["status"] == body["url"]
    assert body["links"]["websocket"] == f"ws://testserver/ws/jobs/{body['id']}/"
    assert body["input"]["format"] == "jsonl"


def test_file_job_is_accepted_and_stored(api_client):
    response = submit_file(api_client, b"id,text\n1,hello\n", name="docs.csv", kind="text.stats")

    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.input_format, job.input_name, job.input_size) == ("csv", "docs.csv", 16)
    with job.input_file.open("rb") as stored:
        assert stored.read() == b"id,text\n1,hello\n"


def test_unauthenticated_request_is_refused(anon_client):
    response = anon_client.get("/api/v1/jobs/")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"kind": "no.such.kind", "items": ITEMS}, "unknown_kind"),
        ({"kind": "test.echo", "items": ITEMS, "params": {"unknown": 1}}, "invalid_params"),
        ({"kind": "test.echo", "items": ITEMS, "params": {"fail_items": "x"}}, "invalid_params"),
        ({"kind": "test.echo", "items": ITEMS, "params": "not-json"}, "invalid"),
        ({"kind": "test.echo", "items": ITEMS, "params": [1]}, "invalid"),
        ({"kind": "test.echo"}, "input_required"),
        ({"kind": "test.echo", "items": []}, "invalid"),
        ({"kind": "test.echo", "items": ITEMS, "chunk_size": 0}, "invalid"),
        ({"kind": "test.echo", "items": ITEMS, "chunk_size": 10**6}, "invalid_chunk_size"),
        ({"items": ITEMS}, "invalid"),
    ],
)
def test_invalid_job_request_gets_a_clear_400(api_client, payload, code):
    response = api_client.post("/api/v1/jobs/", payload, format="json")

    assert response.status_code == 400
    assert _error(response)["code"] == code
    assert _error(response)["message"]
    assert not Job.objects.exists()


def test_invalid_params_name_the_field(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "text.stats", "items": ITEMS, "params": {"words_per_minute": 1}},
        format="json",
    )

    assert response.status_code == 400
    assert _error(response)["message"].startswith("params.words_per_minute:")


def test_a_rule_on_the_params_as_a_whole_reads_without_pydantic_wording(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "text.process", "items": ITEMS, "params": {"steps": ["clean", "clean"]}},
        format="json",
    )

    assert response.status_code == 400
    assert _error(response)["message"] == "params: steps: each step at most once"


def test_an_unknown_parameter_names_the_parameters_the_kind_takes(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "text.stats", "items": ITEMS, "params": {"word_per_minute": 200}},
        format="json",
    )

    assert response.status_code == 400
    message = _error(response)["message"]
    assert message.startswith("params.word_per_minute: unknown parameter; text.stats takes: ")
    assert "words_per_minute" in message


def test_a_missing_parameter_is_said_to_be_required(api_client):
    response = api_client.post(
        "/api/v1/jobs/", {"kind": "data.export", "params": {}}, format="json"
    )

    assert response.status_code == 400
    assert _error(response)["message"] == "params.target: required"


def test_a_job_that_does_not_exist_is_404_not_found(api_client):
    response = api_client.get("/api/v1/jobs/00000000-0000-4000-8000-000000000000/")

    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_too_many_inline_items_are_refused(api_client, settings):
    settings.BULKYARD_MAX_INLINE_ITEMS = 3

    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": [1, 2, 3, 4]}, format="json"
    )

    assert response.status_code == 400
    assert "upload a CSV or JSON Lines file" in _error(response)["message"]


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"", "empty.csv", "empty_file"),
        (b"\n\n  \n", "blank.csv", "empty_file"),
        (b"id,text\n", "header-only.csv", "no_items"),
        (b"id,id\n1,2\n", "dup.csv", "invalid_header"),
        (b"id,,x\n1,2,3\n", "empty-col.csv", "invalid_header"),
        (b"\xff\xfei\x00d\x00\n\x00", "utf16.csv", "invalid_encoding"),
        (
            "nom,ville\nÉlodie,Orléans\nAndré,Nîmes\n".encode("latin-1"),
            "l1.csv",
            "invalid_encoding",
        ),
        (b'{"a": 1}\n', "items.txt", "invalid"),
        (b"not json at all\n", "items.jsonl", "invalid_json"),
        (b"id,body\n1,hello\n", "docs.csv", "missing_columns"),
    ],
)
def test_malformed_upload_gets_a_clear_400(api_client, content, name, code):
    kind = "text.stats" if name == "docs.csv" else "test.echo"
    response = submit_file(api_client, content, name=name, kind=kind)

    assert response.status_code == 400, response.content
    assert _error(response)["code"] == code
    assert not Job.objects.exists()


def test_a_file_with_a_few_bad_lines_is_accepted_for_per_row_errors(api_client):
    content = b"name,city\nAda,London\nBad,Lond\xe9n\nEve,Paris\nTom,Oslo\nAnn,Rome\n"

    response = submit_file(api_client, content, name="people.csv")

    assert response.status_code == 202


def test_the_format_can_be_given_explicitly(api_client):
    response = submit_file(api_client, b'{"a": 1}\n', name="items.txt", format="jsonl")

    assert response.status_code == 202
    assert response.json()["input"]["format"] == "jsonl"


def test_upload_over_the_size_limit_gets_413(api_client, settings):
    settings.BULKYARD_MAX_UPLOAD_BYTES = 1000

    response = submit_file(api_client, b"id,text\n" + b"1,aaaaaaaaaa\n" * 200)

    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"
    assert not Job.objects.exists()


def test_the_413_message_gives_the_limit_in_mib(api_client, settings):
    settings.BULKYARD_MAX_UPLOAD_BYTES = 1024 * 1024
    body = b"id,text\n" + b"1,aaaaaaaaaa\n" * 100_000

    response = submit_file(api_client, body)

    assert "the limit is 1 MiB" in _error(response)["message"]


def test_upload_handler_stops_a_body_without_length_at_the_limit(api_client, settings, rf):
    from django.core.files.uploadhandler import StopUpload  # noqa: F401

    from bulkyard.core.exceptions import PayloadTooLarge
    from bulkyard.jobs.uploads import LimitedHashingUploadHandler

    settings.BULKYARD_MAX_UPLOAD_BYTES = 10
    handler = LimitedHashingUploadHandler(rf.post("/"))
    handler.new_file("file", "x.csv", "text/csv", None)
    handler.receive_data_chunk(b"12345", 0)

    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"678901", 5)


def test_same_idempotency_key_and_body_returns_the_first_job(api_client):
    headers = {"Idempotency-Key": "import-2026-11-25"}
    first = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}, format="json", headers=headers
    )
    second = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}, format="json", headers=headers
    )

    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_same_idempotency_key_for_the_same_file_returns_the_first_job(api_client):
    headers = {"Idempotency-Key": "upload-1"}
    first = submit_file(api_client, b"a,b\n1,2\n", headers=headers)
    second = submit_file(api_client, b"a,b\n1,2\n", headers=headers)

    assert second.json()["id"] == first.json()["id"]
    assert Job.objects.count() == 1


def test_same_idempotency_key_with_a_different_body_is_422(api_client):
    headers = {"Idempotency-Key": "k-1"}
    api_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}, headers=headers)

    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS[:1]}, headers=headers
    )

    assert response.status_code == 422
    assert _error(response)["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1


def test_idempotency_keys_are_per_user(api_client, other_client):
    headers = {"Idempotency-Key": "shared"}
    mine = api_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}, headers=headers)
    theirs = other_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}, headers=headers
    )

    assert theirs.status_code == 202
    assert theirs.json()["id"] != mine.json()["id"]


def test_an_overlong_idempotency_key_is_refused(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "test.echo", "items": ITEMS},
        headers={"Idempotency-Key": "k" * 256},
    )

    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_idempotency_key"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("post", "cancel/"),
        ("post", "pause/"),
        ("post", "resume/"),
        ("post", "retry/"),
        ("get", "results/"),
        ("get", "results/?outcome=unprocessed"),
        ("get", "output/"),
    ],
)
def test_another_users_job_is_404(api_client, other_client, method, suffix):
    job = submit_items(api_client, ITEMS)

    response = getattr(other_client, method)(f"/api/v1/jobs/{job['id']}/{suffix}")

    assert response.status_code == 404
    assert Job.objects.get(pk=job["id"]).status == "queued"


def test_listing_shows_only_own_jobs_filtered_and_paginated(api_client, other_client):
    for _ in range(3):
        submit_items(api_client, ITEMS)
    submit_items(api_client, ITEMS, kind="text.stats")
    submit_items(other_client, ITEMS)

    everything = api_client.get("/api/v1/jobs/").json()
    echo = api_client.get("/api/v1/jobs/?kind=test.echo&page_size=2").json()
    running = api_client.get("/api/v1/jobs/?status=running").json()

    assert everything["count"] == 4
    assert echo["count"] == 3
    assert len(echo["results"]) == 2
    assert echo["next"] is not None
    assert running["count"] == 0


def test_listing_with_an_unknown_status_is_400(api_client):
    response = api_client.get("/api/v1/jobs/?status=exploded")

    assert response.status_code == 400


def test_cancelling_a_queued_job_cancels_it_at_once(api_client):
    job = submit_items(api_client, ITEMS)

    response = api_client.post(f"/api/v1/jobs/{job['id']}/cancel/")

    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"] is not None


def test_cancelling_a_finished_job_is_409(api_client):
    job = submit_items(api_client, ITEMS)
    Job.objects.filter(pk=job["id"]).update(status="succeeded")

    response = api_client.post(f"/api/v1/jobs/{job['id']}/cancel/")

    assert response.status_code == 409
    assert _error(response)["code"] == "job_finished"


def test_retrying_an_unfinished_job_is_409(api_client):
    job = submit_items(api_client, ITEMS)

    response = api_client.post(f"/api/v1/jobs/{job['id']}/retry/")

    assert response.status_code == 409
    assert _error(response)["code"] == "job_not_finished"


def test_retrying_a_job_without_failures_is_409(api_client):
    job = submit_items(api_client, ITEMS)
    Job.objects.filter(pk=job["id"]).update(status="succeeded")

    response = api_client.post(f"/api/v1/jobs/{job['id']}/retry/")

    assert response.status_code == 409
    assert _error(response)["code"] == "nothing_to_retry"


@pytest.mark.parametrize("query", ["outcome=maybe", "format=xlsx"])
def test_results_with_bad_query_are_400(api_client, query):
    job = submit_items(api_client, ITEMS)

    response = api_client.get(f"/api/v1/jobs/{job['id']}/results/?{query}")

    assert response.status_code == 400


def test_output_of_a_job_without_one_is_404(api_client):
    job = submit_items(api_client, ITEMS)

    response = api_client.get(f"/api/v1/jobs/{job['id']}/output/")

    assert response.status_code == 404


def test_kinds_lists_each_kind_with_its_parameter_schema(api_client):
    response = api_client.get("/api/v1/kinds/")

    assert response.status_code == 200
    kinds = {kind["name"]: kind for kind in response.json()}
    stats = kinds["text.stats"]
    assert stats["queue"] == "bulkyard.cpu"
    assert stats["input_formats"] == ["csv", "jsonl"]
    assert stats["params_schema"]["properties"]["words_per_minute"]["minimum"] == 50
    assert stats["example_item"]["text"]


def test_job_creation_is_throttled_per_user(api_client, other_client, monkeypatch):
    cache.clear()
    rates = {**JobCreateThrottle.THROTTLE_RATES, "job_create": "2/min"}
    monkeypatch.setattr(JobCreateThrottle, "THROTTLE_RATES", rates)
    try:
        codes = [
            api_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS}).status_code
            for _ in range(3)
        ]
        other = other_client.post("/api/v1/jobs/", {"kind": "test.echo", "items": ITEMS})
        reads = api_client.get("/api/v1/jobs/")
    finally:
        cache.clear()

    assert codes == [202, 202, 429]
    assert other.status_code == 202
    assert reads.status_code == 200


def test_a_json_body_nested_absurdly_deep_is_400(api_client):
    body = '{"kind": "test.echo", "items": ' + "[" * 50_000 + "]" * 50_000 + "}"

    response = api_client.post("/api/v1/jobs/", body, content_type="application/json")

    assert response.status_code == 400
    assert "nested too deeply" in _error(response)["message"]


def test_params_nested_absurdly_deep_in_multipart_are_400(api_client):
    response = submit_file(api_client, b"a\n1\n", params="[" * 50_000 + "]" * 50_000)

    assert response.status_code == 400


def test_an_inline_item_with_a_lone_surrogate_is_400(api_client):
    body = '{"kind": "test.echo", "items": [{"text": "ok"}, {"text": "\\ud800"}]}'

    response = api_client.post("/api/v1/jobs/", body, content_type="application/json")

    assert response.status_code == 400
    assert "item 2" in _error(response)["message"]


def _nested(depth: int) -> list:
    """A list ``depth`` levels deep, built without recursing."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_an_inline_item_nested_deeper_than_the_readers_accept_is_400(api_client):
    body = {"kind": "test.echo", "items": [{"ok": 1}, _nested(MAX_ITEM_DEPTH + 1)]}

    response = api_client.post("/api/v1/jobs/", body, format="json")

    assert response.status_code == 400
    assert _error(response)["message"] == (
        f"items: item 2 is nested more than {MAX_ITEM_DEPTH} levels deep"
    )


def test_an_inline_item_nested_as_deep_as_the_readers_accept_is_accepted(api_client):
    body = {"kind": "test.echo", "items": [_nested(MAX_ITEM_DEPTH)]}

    response = api_client.post("/api/v1/jobs/", body, format="json")

    assert response.status_code == 202, response.content


def test_an_inline_item_nested_near_the_recursion_limit_is_invalid_not_a_recursion_error():
    # What a JSON parser called high in the stack still returns: validating
    # it must not recurse once per level (it raised RecursionError, a 500).
    payload = JobCreateInputSerializer(data={"kind": "test.echo", "items": [_nested(990)]})

    assert not payload.is_valid()
    assert payload.errors == {"items": [f"item 1 is nested more than {MAX_ITEM_DEPTH} levels deep"]}


def test_a_json_body_over_the_memory_limit_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = api_client.post(
        "/api/v1/jobs/", {"kind": "test.echo", "items": ["x" * 200]}, format="json"
    )

    assert response.status_code == 413
    assert "upload a CSV or JSON Lines file" in _error(response)["message"]


def test_retry_of_a_job_whose_params_no_longer_validate_is_409(api_client):
    job = submit_items(api_client, ITEMS)
    Job.objects.filter(pk=job["id"]).update(status="failed", params={"no_such_param": 1})
    from bulkyard.jobs.models import Chunk, ItemResult

    chunk = Chunk.objects.create(
        job_id=job["id"],
        sequence=0,
        byte_start=0,
        byte_end=1,
        start_line=1,
        first_item_number=1,
        item_count=1,
    )
    ItemResult.objects.create(
        job_id=job["id"], chunk=chunk, item_number=1, outcome="failed", input={"n": 1}
    )

    response = api_client.post(f"/api/v1/jobs/{job['id']}/retry/")

    assert response.status_code == 409
    assert _error(response)["code"] == "invalid_params"


def test_a_gzip_file_is_accepted_and_its_format_read_from_the_inner_name(api_client):
    import gzip

    response = submit_file(
        api_client, gzip.compress(b"id,text\n1,hello\n"), name="docs.csv.gz", kind="text.stats"
    )

    assert response.status_code == 202, response.content
    assert response.json()["input"]["format"] == "csv"
    assert Job.objects.get(pk=response.json()["id"]).input_compression == "gzip"


def test_a_gzip_file_whose_content_is_not_utf8_is_400(api_client):
    import gzip

    content = gzip.compress("é,b\n1,2\n".encode("latin-1"))

    response = submit_file(api_client, content, name="x.csv.gz")

    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_encoding"


def test_a_corrupt_gzip_file_is_400(api_client):
    response = submit_file(api_client, b"\x1f\x8b\x08\x00garbage", name="x.csv.gz")

    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_gzip"


WIDE_HEADER = ",".join(f"column{n}" for n in range(50_000)).encode() + b"\n"  # 639 KB


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_csv_header_longer_than_the_sniff_window_is_read_whole(api_client, compress):
    import gzip

    content = WIDE_HEADER + b",".join([b"1"] * 50_000) + b"\n"
    content = gzip.compress(content) if compress else content

    response = submit_file(api_client, content, name="wide.csv.gz" if compress else "wide.csv")

    assert response.status_code == 202, response.content


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_csv_header_longer_than_the_item_limit_is_400(api_client, settings, compress):
    import gzip

    settings.BULKYARD_MAX_ITEM_BYTES = 200_000
    content = WIDE_HEADER + b"1,2\n"
    content = gzip.compress(content) if compress else content

    response = submit_file(api_client, content, name="wide.csv.gz" if compress else "wide.csv")

    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_header"
    assert _error(response)["message"] == (
        "line 1: the CSV header is longer than the 200000-byte limit"
    )
