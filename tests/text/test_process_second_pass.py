"""text.process's second pass: how it is planned and how a chunk ranks several
first-pass parts, in-process (the integration tests run it in a worker)."""

import json
import uuid

import pytest
from django.core.files.storage import default_storage

from bulkyard.jobs import registry
from bulkyard.jobs.kinds import ChunkContext, FinishContext, Item
from bulkyard.jobs.models import Chunk, Job
from bulkyard.text import kinds
from bulkyard.text.kinds import second_pass_groups
from bulkyard.text.pending import BATCH_DOCUMENTS, pending_batches
from tests.factories import UserFactory

PARAMS = {"steps": ["analyse"], "analyse": {"keywords": 2, "language": False}}


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


@pytest.mark.django_db
def test_the_plan_groups_the_first_pass_parts_in_chunk_order():
    kind = registry.get("text.process")
    job = Job.objects.create(
        owner=UserFactory(), kind="text.process", input_format="jsonl", chunk_size=100
    )
    for sequence in (2, 0, 1):  # created out of order
        Chunk.objects.create(
            job=job,
            sequence=sequence,
            byte_start=0,
            byte_end=1,
            start_line=1,
            first_item_number=1,
            item_count=100,
            succeeded_items=100,
            summary={"pending_part": f"p{sequence}"},
        )

    plan = kind.plan_second_pass(_finish_context(job, succeeded=300))

    assert plan is not None
    assert [chunk.work for chunk in plan.chunks] == [
        {"parts": ["p0"], "documents": 300},
        {"parts": ["p1"], "documents": 300},
        {"parts": ["p2"], "documents": 300},
    ]


@pytest.mark.django_db
def test_one_chunk_ranking_two_parts_writes_what_two_chunks_ranking_one_each_write():
    job_id = str(uuid.uuid4())
    first = _first_pass(job_id, 0, ["Garden hose. Garden gloves.", "Kitchen kettle."])
    second = _first_pass(job_id, 1, ["Garden kettle kettle.", "Bicycle bell."])

    apart = [
        _second_pass(job_id, 10 + n, {"parts": [part], "documents": 4})
        for n, part in enumerate((first, second))
    ]
    together = _second_pass(job_id, 20, {"parts": [first, second], "documents": 4})

    assert together["rows"] == apart[0]["rows"] + apart[1]["rows"]
    assert together["ranked_parts"] == 2
    assert together["rows"].count(b'"keywords": ["garden", "gloves"]') == 1


@pytest.mark.django_db
def test_an_id_that_looks_like_a_placeholder_keeps_its_value():
    # Rows used to wait for their keywords behind a marker string that the
    # second pass replaced where it first found it: an id spelled like the
    # marker, which comes before the keywords cell, took the keywords.
    job_id = str(uuid.uuid4())
    part = _first_pass(job_id, 0, ["Garden hose. Garden gloves."], ids=["\x00keywords\x00"])

    rows = _second_pass(job_id, 10, {"parts": [part], "documents": 1})["rows"]

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


@pytest.mark.django_db
def test_a_first_pass_chunk_writes_its_documents_in_batches():
    job_id = str(uuid.uuid4())
    texts = [f"Garden number {n}." for n in range(BATCH_DOCUMENTS * 2 + 3)]

    part = _first_pass(job_id, 0, texts)

    assert _batch_sizes(part) == [BATCH_DOCUMENTS, BATCH_DOCUMENTS, 3]


@pytest.mark.django_db
def test_a_batch_ends_early_once_its_documents_hold_batch_characters(monkeypatch):
    monkeypatch.setattr(kinds, "BATCH_CHARACTERS", 40)
    job_id = str(uuid.uuid4())

    part = _first_pass(job_id, 0, ["Garden hose, twenty chars."] * 5)

    assert _batch_sizes(part) == [2, 2, 1]


def _batch_sizes(part):
    with default_storage.open(part, "rb") as source:
        return [len(batch.terms) for batch in pending_batches(source)]


def _finish_context(job, *, succeeded):
    kind = registry.get("text.process")
    return FinishContext(
        job_id=str(job.pk),
        owner_id=job.owner_id,
        params=kind.parse_params(PARAMS),
        cancelled=False,
        chunk_summaries=[],
        counts={"total": succeeded, "processed": succeeded, "succeeded": succeeded, "failed": 0},
    )


def _first_pass(job_id, sequence, texts, *, ids=None):
    """The name of the pending part a first-pass chunk of these texts writes,
    its document frequencies added to the job's."""
    kind = registry.get("text.process")
    ctx = ChunkContext(job_id=job_id, chunk_sequence=sequence, params=kind.parse_params(PARAMS))
    ids = ids or [f"d{n}" for n in range(len(texts))]
    items = [
        Item(sequence * 10 + n, {"id": id_, "text": t})
        for n, (id_, t) in enumerate(zip(ids, texts, strict=True))
    ]
    result = kind.process_chunk(items, ctx)
    kind.commit_chunk(result, ctx)
    return result.summary["pending_part"]


def _second_pass(job_id, sequence, work):
    """What a second-pass chunk with this work wrote, and its summary."""
    kind = registry.get("text.process")
    ctx = ChunkContext(
        job_id=job_id,
        chunk_sequence=sequence,
        params=kind.parse_params(PARAMS),
        work=work,
        pass_number=2,
    )
    summary = kind.process_chunk(iter(()), ctx).summary
    with default_storage.open(summary["rows_part"], "rb") as rows:
        return {**summary, "rows": rows.read()}
