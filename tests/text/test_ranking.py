"""text.process's second pass: how it is planned and how a chunk ranks several
first-pass parts, in-process (the integration tests run it in a worker), its
parts on the local folder and on S3."""

import json
import uuid

import pytest

from bulkyard.jobs import registry
from bulkyard.jobs.kinds import FinishContext, FinishedChunk
from bulkyard.text.ranking import second_pass_groups
from tests.support.text import PARAMS, first_pass, second_pass


def test_second_pass_chunks_take_consecutive_parts_up_to_ten_thousand_documents():
    parts = [(f"p{n}", 2000) for n in range(50)]

    groups = second_pass_groups(parts, documents=100_000)

    assert groups == [[f"p{n}" for n in range(start, start + 5)] for start in range(0, 50, 5)]


def test_a_small_job_still_spreads_its_second_pass_over_eight_chunks():
    parts = [(f"p{n}", 100) for n in range(16)]

    groups = second_pass_groups(parts, documents=1600)

    assert groups == [[f"p{n}", f"p{n + 1}"] for n in range(0, 16, 2)]


def test_a_part_over_the_target_is_ranked_alone_and_the_next_part_starts_a_chunk():
    parts = [("small", 10), ("large", 30_000), ("after", 10), ("last", 10)]

    groups = second_pass_groups(parts, documents=30_030)

    assert groups == [["small"], ["large"], ["after", "last"]]


def test_a_job_of_a_few_documents_ranks_each_part_in_its_own_chunk():
    assert second_pass_groups([("a", 2), ("b", 2)], documents=4) == [["a"], ["b"]]


def test_the_plan_groups_the_first_pass_parts_in_chunk_order():
    chunks = [
        FinishedChunk(sequence=n, pass_number=1, succeeded=100, summary={"pending_part": f"p{n}"})
        for n in range(3)
    ]
    # Chunks without a pending part add nothing to rank.
    chunks.append(FinishedChunk(sequence=3, pass_number=1, succeeded=0, summary=None))

    plan = registry.get("text.process").plan_second_pass(_finish_context(chunks, succeeded=300))

    assert plan is not None
    assert [chunk.work for chunk in plan.chunks] == [
        {"parts": ["p0"], "documents": 300},
        {"parts": ["p1"], "documents": 300},
        {"parts": ["p2"], "documents": 300},
    ]


def test_no_second_pass_without_documents_or_keywords():
    chunks = [FinishedChunk(sequence=0, pass_number=1, succeeded=0, summary={"pending_part": "p"})]

    assert (
        registry.get("text.process").plan_second_pass(_finish_context(chunks, succeeded=0)) is None
    )


@pytest.mark.django_db
def test_one_chunk_ranking_two_parts_writes_what_two_chunks_ranking_one_each_write(any_storage):
    job_id = str(uuid.uuid4())
    first = first_pass(job_id, 0, ["Garden hose. Garden gloves.", "Kitchen kettle."])
    second = first_pass(job_id, 1, ["Garden kettle kettle.", "Bicycle bell."])

    apart = [
        second_pass(job_id, 10 + n, {"parts": [part], "documents": 4})
        for n, part in enumerate((first, second))
    ]
    together = second_pass(job_id, 20, {"parts": [first, second], "documents": 4})

    assert together["rows"] == apart[0]["rows"] + apart[1]["rows"]
    assert together["ranked_parts"] == 2
    assert together["rows"].count(b'"keywords": ["garden", "gloves"]') == 1


@pytest.mark.django_db
def test_an_id_that_looks_like_a_placeholder_keeps_its_value():
    # Rows used to wait for their keywords behind a marker string that the
    # second pass replaced where it first found it: an id spelled like the
    # marker, which comes before the keywords cell, took the keywords.
    job_id = str(uuid.uuid4())
    part = first_pass(job_id, 0, ["Garden hose. Garden gloves."], ids=["\x00keywords\x00"])

    rows = second_pass(job_id, 10, {"parts": [part], "documents": 1})["rows"]

    assert json.loads(rows) == {
        "item": 0,
        "id": "\x00keywords\x00",
        "characters": 27,
        "words": 4,
        "sentences": 2,
        "reading_seconds": 1.0,
        "keywords": ["garden", "gloves"],
        "text": "Garden hose. Garden gloves.",
    }


def _finish_context(chunks, *, succeeded):
    kind = registry.get("text.process")
    return FinishContext(
        job_id=str(uuid.uuid4()),
        owner_id=1,
        params=kind.parse_params(PARAMS),
        cancelled=False,
        chunks=chunks,
        counts={"total": succeeded, "processed": succeeded, "succeeded": succeeded, "failed": 0},
    )
