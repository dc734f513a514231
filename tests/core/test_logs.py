"""Structured log lines: JSON with the bound fields, secrets masked, context
unbound when its work ends."""

import json
import logging
import sys

import pytest

from bulkyard.core.logs import (
    bound,
    formatter,
    log_context,
    request_id_from,
    task_scope_begin,
    task_scope_end,
)


@pytest.fixture(autouse=True)
def _no_task_left():
    yield
    task_scope_end()


def _line(record_logger: str = "bulkyard.test", **extra) -> dict:
    record = logging.LogRecord(
        record_logger, logging.INFO, __file__, 1, "chunk %s done", (7,), None
    )
    record.__dict__.update(extra)
    return json.loads(formatter(json=True).format(record))


def test_a_json_line_carries_the_bound_fields_and_the_extra_ones():
    with log_context(job_id="4b1c", chunk_id=7, kind="text.stats", owner=3):
        line = _line(status="done")

    assert line["event"] == "chunk 7 done"
    assert line["level"] == "info"
    assert line["logger"] == "bulkyard.test"
    assert {k: line[k] for k in ("job_id", "chunk_id", "kind", "owner", "status")} == {
        "job_id": "4b1c",
        "chunk_id": 7,
        "kind": "text.stats",
        "owner": 3,
        "status": "done",
    }
    assert line["timestamp"].endswith("Z")


def test_values_under_secret_looking_names_are_masked():
    line = _line(api_key="sk-live-123", password="hunter2")

    assert "sk-live-123" not in json.dumps(line)
    assert line["password"] == "••••••"


def test_an_exception_is_rendered_into_the_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    line = json.loads(formatter(json=True).format(record))

    assert line["exception"][0]["exc_type"] == "ValueError"


def _failed_record_with_a_secret_local() -> logging.LogRecord:
    smtp_password = "hunter2-in-a-frame"
    try:
        raise ConnectionError(f"refused ({len(smtp_password)})")
    except ConnectionError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    return record


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "console"])
def test_a_traceback_leaves_out_the_frames_local_variables(as_json):
    text = formatter(json=as_json).format(_failed_record_with_a_secret_local())

    assert "ConnectionError" in text
    assert "hunter2-in-a-frame" not in text


def test_the_console_format_is_one_line_of_key_values():
    record = logging.LogRecord("bulkyard.test", logging.INFO, __file__, 1, "hello", (), None)
    with log_context(job_id="4b1c"):
        text = formatter(json=False).format(record)

    assert "hello" in text
    assert "job_id=4b1c" in text
    assert "\n" not in text


def test_fields_are_unbound_when_their_block_ends():
    with log_context(job_id="4b1c"):
        pass

    assert "job_id" not in bound()


def test_in_a_task_the_tasks_own_work_stays_bound_until_the_task_ends():
    task_scope_begin(task_id="t-1", task="run_next_chunk")
    with log_context(job_id="4b1c", until_task_ends=True):
        pass
    with log_context(chunk_id=9):
        pass

    assert dict(bound()) == {"task_id": "t-1", "task": "run_next_chunk", "job_id": "4b1c"}
    task_scope_end()
    assert dict(bound()) == {}


def test_a_clients_request_id_is_kept_when_it_looks_like_one():
    assert request_id_from("9f8e7d6c-0a1b-4c2d-8e3f-abcdef012345") == (
        "9f8e7d6c-0a1b-4c2d-8e3f-abcdef012345"
    )


def test_a_request_id_that_does_not_look_like_one_is_replaced():
    forged = request_id_from('x" level=error event="forged')

    assert len(forged) == 32
    assert forged.isalnum()
