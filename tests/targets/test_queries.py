"""Filters, plans of key ranges and the rows of one range, in-process on the test database."""

import pytest

from bulkyard.data.models import Contact
from bulkyard.targets.queries import (
    InvalidFilter,
    chunk_rows,
    export_plan,
    export_queryset,
)
from bulkyard.targets.registry import get_target
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

TARGET = get_target("contacts")


def test_the_plan_covers_every_matching_row_once_in_chunks_of_the_given_size():
    ContactFactory.create_batch(7, city="Paris")
    ContactFactory.create_batch(3, city="Oslo")
    queryset = export_queryset(TARGET, {"city": "Paris"})

    plan = export_plan(queryset, chunk_size=3)

    assert plan.total_items == 7
    assert [chunk.item_count for chunk in plan.chunks] == [3, 3, 1]
    exported = [
        email for chunk in plan.chunks for (email,) in chunk_rows(queryset, chunk.work, ["email"])
    ]
    assert sorted(exported) == sorted(
        Contact.objects.filter(city="Paris").values_list("email", flat=True)
    )


def test_rows_created_after_planning_with_a_higher_key_are_left_out():
    ContactFactory.create_batch(4)
    queryset = export_queryset(TARGET, {})
    plan = export_plan(queryset, chunk_size=10)

    ContactFactory()

    assert len(list(chunk_rows(queryset, plan.chunks[-1].work, ["email"]))) == 4


def test_nothing_to_export_plans_one_empty_chunk():
    plan = export_plan(export_queryset(TARGET, {"city": "Nowhere"}), chunk_size=10)

    assert plan.total_items == 0
    assert [chunk.item_count for chunk in plan.chunks] == [0]
    assert list(chunk_rows(Contact.objects.all(), plan.chunks[0].work, ["email"])) == []


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"password": "x"}, "unknown field 'password'"),
        ({"name__regex": ".*"}, "unknown lookup 'regex'"),
        ({"city__name": "x"}, "unknown lookup 'name'"),
        ({"age__gte": "old"}, "expected a number but got 'old'"),
        ({"age__in": 5}, "filter:"),
    ],
)
def test_a_bad_filter_is_refused_with_its_reason(filters, reason):
    with pytest.raises(InvalidFilter, match=reason):
        export_queryset(TARGET, filters)
