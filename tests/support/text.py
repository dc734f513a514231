"""Running ``text.process``'s passes in-process, as a worker would."""

from django.core.files.storage import default_storage

from bulkyard.jobs import registry
from bulkyard.jobs.kinds import ChunkContext, Item
from bulkyard.text.pending import pending_batches

PARAMS = {"steps": ["analyse"], "analyse": {"keywords": 2, "language": False}}


def batch_sizes(part):
    with default_storage.open(part, "rb") as source:
        return [len(batch.terms) for batch in pending_batches(source)]


def first_pass(job_id, sequence, texts, *, ids=None):
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


def second_pass(job_id, sequence, work):
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
