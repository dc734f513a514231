"""text.process's finish step, without a worker."""

import pytest

from bulkyard.jobs import registry
from bulkyard.jobs.kinds import FinishContext, FinishedChunk
from bulkyard.text.ranking import SecondPassIncomplete

pytestmark = pytest.mark.django_db


def _context(summaries, *, succeeded=4):
    kind = registry.get("text.process")
    return kind, FinishContext(
        job_id="00000000-0000-0000-0000-000000000000",
        owner_id=1,
        params=kind.parse_params({"analyse": {"keywords": 3}}),
        cancelled=False,
        chunks=[
            FinishedChunk(
                sequence=n,
                pass_number=2 if "keyword_scores" in summary else 1,
                succeeded=0,
                summary=summary,
            )
            for n, summary in enumerate(summaries)
        ],
        counts={"total": 4, "processed": 4, "succeeded": succeeded, "failed": 0},
    )


def test_a_second_pass_chunk_that_never_finished_fails_the_job_rather_than_lose_rows():
    kind, ctx = _context(
        [
            {"pending_part": "p1", "totals": {"documents": 2}},
            {"pending_part": "p2", "totals": {"documents": 2}},
            {"rows_part": "r1", "keyword_scores": {"kettle": 1.0}},
        ]
    )

    with pytest.raises(SecondPassIncomplete, match="1 of 2 chunks"):
        kind.finish(ctx)


def test_without_documents_there_is_no_second_pass_to_miss():
    kind, ctx = _context([{"pending_part": "p1", "totals": {}}], succeeded=0)

    assert kind.finish(ctx).summary["documents"] == 0


def test_a_second_pass_chunk_counts_every_part_it_ranked():
    kind, ctx = _context(
        [
            {"pending_part": "p1", "totals": {"documents": 1}},
            {"pending_part": "p2", "totals": {"documents": 1}},
            {"pending_part": "p3", "totals": {"documents": 2}},
            {"rows_part": "r1", "ranked_parts": 2, "keyword_scores": {"kettle": 1.0}},
        ]
    )

    with pytest.raises(SecondPassIncomplete, match="1 of 3 chunks"):
        kind.finish(ctx)
