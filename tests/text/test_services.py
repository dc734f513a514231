"""The job's document frequencies: added chunk by chunk, read back by term."""

import uuid

import pytest

from bulkyard.text.services import term_counts, term_counts_add, term_counts_clear

pytestmark = pytest.mark.django_db


def _job_id() -> str:
    # Frequencies reference their job without a database constraint (they are
    # written under load, and cleared with the job): any id will do here.
    return str(uuid.uuid4())


def test_chunks_add_up_their_document_frequencies():
    job_id = _job_id()

    term_counts_add(job_id, {"garden": 2, "invoice": 5})
    term_counts_add(job_id, {"invoice": 3, "kettle": 1})

    assert term_counts(job_id, ["garden", "invoice", "kettle", "absent"]) == {
        "garden": 2,
        "invoice": 8,
        "kettle": 1,
    }


def test_jobs_keep_their_own_frequencies_and_clearing_one_leaves_the_other():
    first, second = _job_id(), _job_id()
    term_counts_add(first, {"garden": 2})
    term_counts_add(second, {"garden": 7})

    term_counts_clear(first)

    assert term_counts(first, ["garden"]) == {}
    assert term_counts(second, ["garden"]) == {"garden": 7}


def test_an_empty_chunk_adds_nothing():
    job_id = _job_id()

    term_counts_add(job_id, {})

    assert term_counts(job_id, ["garden"]) == {}
