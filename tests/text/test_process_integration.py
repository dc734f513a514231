"""text.process end to end: the API, a real worker, both passes."""

import csv
import io
import json

import pytest

from bulkyard.jobs.models import Chunk, ItemResult, JobStatus
from bulkyard.text.models import TermCount
from tests.support.files import zip_of
from tests.support.jobs import submit_items, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _run(client, documents, *, chunk_size=2, **params):
    items = [{"id": f"d{n}", "text": text} for n, text in enumerate(documents)]
    job = submit_items(client, items, kind="text.process", params=params, chunk_size=chunk_size)
    return wait_for_job(job["id"])


def _file_rows(job) -> list[dict]:
    """The job's output file (JSON Lines), row by row."""
    with job.output_file.open("rb") as output:
        return [json.loads(line) for line in output.read().decode().splitlines()]


def test_a_pipeline_cleans_redacts_and_analyses_each_document(api_client, worker):
    job = _run(
        api_client,
        ["<p>Mail  <b>ada@example.com</b> or call +44 20 7946 0958.</p>"],
        steps=["clean", "redact", "analyse"],
        analyse={"keywords": 0},
    )

    assert job.status == JobStatus.SUCCEEDED
    [row] = _file_rows(job)
    assert row["text"] == "Mail [EMAIL] or call [PHONE]."
    assert row["redactions"] == {"email": 1, "phone": 1}
    assert (row["item"], row["id"], row["words"], row["sentences"]) == (1, "d0", 5, 1)
    assert job.summary["redactions"] == {"email": 1, "phone": 1}


def test_keywords_come_from_tf_idf_over_the_whole_job(api_client, worker):
    documents = [
        "Invoice for the garden shovel. Garden tools are on sale.",
        "Invoice for the kitchen kettle. Kettle descaler included.",
        "Invoice for the garden hose.",
        "Invoice for a bicycle bell.",
    ]

    job = _run(api_client, documents, analyse={"keywords": 2, "language": True})

    assert job.status == JobStatus.SUCCEEDED
    keywords = [row["keywords"] for row in _file_rows(job)]
    # "invoice" is in every document: never a keyword; "garden" is in two.
    assert keywords == [
        ["garden", "sale"],
        ["kettle", "descaler"],
        ["hose", "garden"],
        ["bell", "bicycle"],
    ]
    # Summed over the documents: garden (two documents) before kettle (one).
    assert job.summary["keywords"][:2] == ["garden", "kettle"]
    # Two passes: 2 chunks read the input, 2 ranked the keywords.
    assert sorted(Chunk.objects.filter(job=job).values_list("pass_number", flat=True)) == [
        1,
        1,
        2,
        2,
    ]
    wait_until(lambda: not TermCount.objects.filter(job=job).exists(), message="terms cleared")


NAMES = (  # noqa: SIM905 - reads better as prose
    "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray"
).split()


def test_second_pass_chunks_each_rank_several_first_pass_chunks_in_order(api_client, worker):
    documents = [f"Order for {name}. The {name} shipped with the invoice." for name in NAMES]

    job = _run(api_client, documents, chunk_size=1, analyse={"keywords": 1, "language": False})

    assert job.status == JobStatus.SUCCEEDED
    # 24 documents: 8 second-pass chunks of 3 first-pass chunks each.
    assert Chunk.objects.filter(job=job, pass_number=1).count() == 24
    grouped = Chunk.objects.filter(job=job, pass_number=2).order_by("sequence")
    assert [len(chunk.work["parts"]) for chunk in grouped] == [3] * 8
    rows = _file_rows(job)
    assert [row["item"] for row in rows] == list(range(1, 25))
    assert [row["keywords"] for row in rows] == [[name] for name in NAMES]


def test_languages_are_detected_and_summarised(api_client, worker):
    job = _run(
        api_client,
        [
            "The committee will publish its annual report on the river restoration next week.",
            "Der Ausschuss veröffentlicht nächste Woche seinen Jahresbericht zur Renaturierung.",
            "Le comité publiera la semaine prochaine son rapport annuel sur la rivière.",
        ],
        analyse={"keywords": 0},
    )

    assert [row["language"] for row in _file_rows(job)] == ["en", "de", "fr"]
    assert job.summary["languages"] == {"en": 1, "de": 1, "fr": 1}


def test_find_and_replace_rules_run_with_a_pathological_pattern_in_the_job(api_client, worker):
    job = _run(
        api_client,
        ["a" * 50_000 + "!", "colour and COLOUR"],
        steps=["transform"],
        transform={
            "rules": [
                {"find": "(a+)+$", "replace": "X", "regex": True},
                {"find": "colour", "replace": "color", "ignore_case": True},
            ]
        },
    )

    assert job.status == JobStatus.SUCCEEDED
    rows = _file_rows(job)
    assert rows[0]["replacements"] == 0
    assert (rows[1]["text"], rows[1]["replacements"]) == ("color and color", 2)


def test_an_oversized_document_fails_alone_with_its_size(api_client, worker):
    job = _run(
        api_client,
        ["small one", "x" * 5000, "another small one"],
        max_document_bytes=1000,
        analyse={"keywords": 0},
    )

    assert (job.succeeded_items, job.failed_items) == (2, 1)
    assert [row["id"] for row in _file_rows(job)] == ["d0", "d2"]
    failed = ItemResult.objects.get(job=job)
    assert failed.code == "document_too_large"
    assert "5,000 bytes" in failed.message


def test_a_regex_re2_cannot_run_is_refused_before_the_job_exists(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {
            "kind": "text.process",
            "items": [{"id": 1, "text": "x"}],
            "params": {
                "steps": ["transform"],
                "transform": {"rules": [{"find": r"(\w)\1", "replace": "", "regex": True}]},
            },
        },
        format="json",
    )

    assert response.status_code == 400
    assert "rule 1" in response.content.decode()


def test_the_output_file_can_be_csv_with_lists_flattened(api_client, worker):
    job = _run(
        api_client,
        ["Kettle for the kitchen, kettle descaler.", 'Garden hose, "green",\nfor the garden.'],
        steps=["analyse", "redact"],
        analyse={"keywords": 2, "language": False},
        format="csv",
    )

    response = api_client.get(f"/api/v1/jobs/{job.pk}/output/")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["id"] for row in rows] == ["d0", "d1"]
    assert rows[0]["keywords"] == "kettle; descaler"
    assert rows[1]["text"] == 'Garden hose, "green",\nfor the garden.'
    assert rows[1]["keywords"] == "garden; green"
    assert list(rows[0]) == [
        "item",
        "id",
        "characters",
        "words",
        "sentences",
        "reading_seconds",
        "keywords",
        "redactions",
        "text",
    ]


def test_a_zip_of_text_markdown_and_html_files_is_processed_file_by_file(api_client, worker):
    from tests.support.jobs import submit_file

    archive = zip_of(
        {
            "notes/a.txt": b"\xef\xbb\xbfPlain text, call +44 20 7946 0958.",
            "notes/b.md": b"# Title\n\nMarkdown *text* for ada@example.com.",
            "site/c.html": b"<html><body><h1>Page</h1><p>Hello <b>there</b>.</p></body></html>",
            "images/d.png": b"\x89PNG\r\n\x1a\n",
            "../escape.txt": b"climbing out",
            "notes/latin1.txt": "caf\xe9".encode("latin-1"),
        }
    )

    response = submit_file(
        api_client,
        archive,
        name="documents.zip",
        kind="text.process",
        params=json.dumps({"steps": ["clean", "redact", "analyse"], "analyse": {"keywords": 0}}),
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"])

    rows = {row["id"]: row for row in _file_rows(job)}
    assert rows["notes/a.txt"]["text"] == "Plain text, call [PHONE]."
    assert rows["notes/b.md"]["text"] == "# Title\n\nMarkdown *text* for [EMAIL]."
    assert rows["site/c.html"]["text"] == "Page\n\nHello there."
    failures = {
        r.input["name"] if "name" in r.input else r.input["id"]: r.code
        for r in ItemResult.objects.filter(job=job)
    }
    assert failures == {
        "images/d.png": "unsupported_file",
        "../escape.txt": "unsafe_name",
        "notes/latin1.txt": "invalid_encoding",
    }


def test_a_zip_bomb_is_refused_with_a_400(api_client):
    from tests.support.jobs import submit_file

    response = submit_file(
        api_client,
        zip_of({"bomb.txt": b"\0" * 20_000_000}),
        name="bomb.zip",
        kind="text.process",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "zip_bomb"


def test_failed_files_of_a_zip_that_never_became_text_are_not_retried(api_client, worker):
    from tests.support.jobs import submit_file

    response = submit_file(
        api_client,
        zip_of({"a.txt": b"fine text here", "b.png": b"\x89PNG"}),
        name="documents.zip",
        kind="text.process",
        params=json.dumps({"analyse": {"keywords": 0}}),
    )
    job = wait_for_job(response.json()["id"])
    assert (job.succeeded_items, job.failed_items) == (1, 1)

    retry = api_client.post(f"/api/v1/jobs/{job.pk}/retry/")

    assert retry.status_code == 409
    assert "ZIP" in retry.json()["error"]["message"]
