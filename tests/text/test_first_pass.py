"""text.process's first pass: a chunk's documents written to its part in batches."""

import uuid

import pytest

from bulkyard.text import first_pass as first_pass_module
from bulkyard.text.pending import BATCH_DOCUMENTS
from tests.support.text import batch_sizes, first_pass


@pytest.mark.django_db
def test_a_first_pass_chunk_writes_its_documents_in_batches():
    job_id = str(uuid.uuid4())
    texts = [f"Garden number {n}." for n in range(BATCH_DOCUMENTS * 2 + 3)]

    part = first_pass(job_id, 0, texts)

    assert batch_sizes(part) == [BATCH_DOCUMENTS, BATCH_DOCUMENTS, 3]


@pytest.mark.django_db
def test_a_batch_ends_early_once_its_documents_hold_batch_characters(monkeypatch):
    monkeypatch.setattr(first_pass_module, "BATCH_CHARACTERS", 40)
    job_id = str(uuid.uuid4())

    part = first_pass(job_id, 0, ["Garden hose, twenty chars."] * 5)

    assert batch_sizes(part) == [2, 2, 1]
