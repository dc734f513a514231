"""The process counters' label helpers: bounded labels, committed items."""

from bulkyard.core import metrics
from bulkyard.core.metrics_endpoint import exposition
from tests.support.metrics import samples, value


def _current() -> dict:
    body, _ = exposition(None, with_collectors=False)
    return samples(body.decode())


def test_a_well_formed_code_is_its_own_label():
    assert metrics.code_label("test.labels-a", "invalid_email") == "invalid_email"


def test_codes_that_are_not_codes_count_as_other():
    assert metrics.code_label("test.labels-b", "Bad Code: with text") == "other"
    assert metrics.code_label("test.labels-b", "x" * 80) == "other"


def test_codes_past_the_bound_of_a_kind_count_as_other():
    kind = "test.labels-c"
    for n in range(metrics.MAX_CODES_PER_KIND):
        assert metrics.code_label(kind, f"code_{n}") == f"code_{n}"

    assert metrics.code_label(kind, "one_more") == "other"
    assert metrics.code_label(kind, "code_7") == "code_7"
    assert metrics.code_label("test.labels-d", "one_more") == "one_more"


def test_unknown_http_methods_count_as_other():
    assert metrics.method_label("GET") == "GET"
    assert metrics.method_label("BREW") == "other"


def test_committed_items_count_by_outcome_and_failure_code():
    kind = "test.labels-e"
    before = _current()

    metrics.items_committed(
        kind=kind, succeeded=7, failed=3, failures_by_code={"bad_row": 2, "chunk_failed": 1}
    )

    after = _current()
    moved = {
        (
            outcome_or_code,
            value(after, name, kind=kind, **labels) - value(before, name, kind=kind, **labels),
        )
        for outcome_or_code, name, labels in (
            ("succeeded", "bulkyard_items_total", {"outcome": "succeeded"}),
            ("failed", "bulkyard_items_total", {"outcome": "failed"}),
            ("bad_row", "bulkyard_item_failures_total", {"code": "bad_row"}),
            ("chunk_failed", "bulkyard_item_failures_total", {"code": "chunk_failed"}),
        )
    }
    assert moved == {("succeeded", 7), ("failed", 3), ("bad_row", 2), ("chunk_failed", 1)}


def test_outbound_answers_are_labelled_by_status_class():
    assert metrics.status_class(204) == "2xx"
    assert metrics.status_class(503) == "5xx"
    assert metrics.status_class(999) == "other"
