"""``text.process``'s second pass: each document's keywords ranked against the
job's document frequencies, once every document has been counted, and written
into its row of the output file."""

import heapq
from collections.abc import Sequence
from operator import itemgetter
from typing import IO

from bulkyard.jobs.sdk import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    PlannedChunk,
    WorkPlan,
    part_open,
    part_writer,
)
from bulkyard.text import keywords
from bulkyard.text.params import TextProcessParams
from bulkyard.text.pending import PendingBatch, keywords_cell, pending_batches
from bulkyard.text.services import term_counts

# A second-pass chunk ranks the documents of consecutive first-pass chunks, up
# to this many: a chunk's claim, commit and hand-over cost as much as ranking
# hundreds of documents, so small chunks spend much of the second pass on their
# own upkeep (decision 0007 has the figures).
SECOND_PASS_DOCUMENTS = 10_000
# Fewer documents than that per chunk where a job is small, so that its second
# pass still spreads over this many pool processes.
SECOND_PASS_SPREAD = 8


def second_pass_groups(parts: Sequence[tuple[str, int]], documents: int) -> list[list[str]]:
    """The first pass's pending parts (name, documents), in order, cut into
    runs of consecutive parts for the second-pass chunks."""
    target = max(1, min(SECOND_PASS_DOCUMENTS, documents // SECOND_PASS_SPREAD))
    groups: list[list[str]] = []
    size = 0
    for part, count in parts:
        if not groups or size + count > target:
            groups.append([])
            size = 0
        groups[-1].append(part)
        size += count
    return groups


def second_pass_plan(ctx: FinishContext[TextProcessParams]) -> WorkPlan | None:
    """The second pass's chunks: the first pass's pending parts, in chunk order,
    cut into runs of consecutive parts; None when no keywords are wanted or no
    document succeeded."""
    if not ctx.params.wants_keywords() or not ctx.counts["succeeded"]:
        return None
    documents = ctx.counts["succeeded"]
    pending = [
        (chunk.summary["pending_part"], chunk.succeeded)
        for chunk in ctx.chunks
        if chunk.pass_number == 1 and chunk.summary and "pending_part" in chunk.summary
    ]
    return WorkPlan(
        total_items=0,
        chunks=[
            PlannedChunk(item_count=0, work={"parts": parts, "documents": documents})
            for parts in second_pass_groups(pending, documents)
        ],
    )


class SecondPassIncomplete(Exception):
    """A second-pass chunk failed for good: a file without its documents would
    look complete."""


def rank_keywords(ctx: ChunkContext[TextProcessParams]) -> ChunkResult:
    """Second pass over consecutive first-pass chunks: each document's
    keywords against the job's document frequencies, written into its row
    of the output file."""
    assert ctx.work is not None
    params = ctx.params
    parts: list[str] = ctx.work["parts"]
    documents = int(ctx.work["documents"])
    # The group's parts share most of their words: each term's weight is
    # looked up once for the whole group.
    weights: dict[str, float] = {}
    scores: dict[str, float] = {}
    with part_writer(job_id=ctx.job_id, sequence=ctx.chunk_sequence) as (final, spool):
        for part in parts:
            with part_open(part) as source:
                # The part's documents' terms, held while their rows stream past.
                batches = list(pending_batches(source))
                unknown = set[str]().union(*(terms for batch in batches for terms in batch.terms))
                unknown.difference_update(weights)
                weights.update(
                    keywords.weights(unknown, term_counts(ctx.job_id, unknown), documents)
                )
                for batch in batches:
                    if ctx.should_stop():
                        return ChunkResult()
                    spool.write(_ranked_rows(batch, source, weights, scores, params))
    result = ChunkResult()
    result.summary = {
        "rows_part": final,
        "ranked_parts": len(parts),
        "keyword_scores": dict(heapq.nlargest(200, scores.items(), key=itemgetter(1))),
    }
    return result


def _ranked_rows(
    batch: PendingBatch,
    source: IO[bytes],
    weights: dict[str, float],
    scores: dict[str, float],
    params: TextProcessParams,
) -> bytes:
    """A batch's rows with their keywords; each keyword's score is added to
    ``scores``."""
    pieces: list[bytes] = []
    for terms, (head, tail) in zip(batch.terms, batch.rows(source), strict=True):
        ranked = keywords.top(terms, weights, params.analyse.keywords)
        for term, score in ranked:
            scores[term] = scores.get(term, 0.0) + score
        pieces += (head, keywords_cell([term for term, _ in ranked], params.format), tail)
    return b"".join(pieces)
