"""The send-once ledger's steps (``bulkyard.jobs.ledger``), on a kind's ledger
(the outbound calls'); the kinds' own tests cover what a rerun does with them."""

import uuid

import pytest
from django.db.models import Q

from bulkyard.jobs.ledger import LedgerStatus
from bulkyard.jobs.models import Job
from bulkyard.outbound.models import OutboundCall

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(user):
    job = Job.objects.create(owner=user, kind="http.request", input_format="jsonl", chunk_size=10)
    OutboundCall.objects.bulk_create([OutboundCall(job=job, item_number=n) for n in range(1, 5)])
    return OutboundCall.objects.filter(job=job)


def _numbers(queryset):
    return sorted(queryset.values_list("item_number", flat=True))


def test_a_claim_takes_only_pending_rows_and_counts_the_run(rows):
    held = rows.filter(item_number__in=[1, 2]).claim(uuid.uuid4())
    rest = rows.claim(uuid.uuid4())

    assert (_numbers(held), _numbers(rest)) == ([1, 2], [3, 4])
    assert set(rows.values_list("status", "runs")) == {(LedgerStatus.SENDING, 1)}


def test_a_sending_row_is_taken_again_only_where_the_kind_says_so(rows):
    rows.claim(uuid.uuid4())

    retaken = rows.claim(uuid.uuid4(), retake=Q(item_number=2))

    assert list(retaken.values_list("item_number", "runs")) == [(2, 2)]


def test_release_gives_back_what_this_run_claimed_and_never_finished(rows):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    rows.filter(item_number__in=[1, 2]).claim(mine)
    rows.filter(item_number=3).claim(theirs)
    rows.filter(item_number=1).done(succeeded=True)

    assert rows.release(mine) == 1
    assert dict(rows.values_list("item_number", "status")) == {
        1: LedgerStatus.DONE,
        2: LedgerStatus.PENDING,
        3: LedgerStatus.SENDING,
        4: LedgerStatus.PENDING,
    }


def test_done_records_whether_it_succeeded_and_the_kinds_own_fields(rows):
    rows.filter(item_number=1).done(succeeded=False, outcome={"code": "x"})

    row = rows.get(item_number=1)
    assert (row.status, row.succeeded, row.outcome) == (LedgerStatus.DONE, False, {"code": "x"})
    assert rows.get(item_number=2).succeeded is None
