"""How the client words what the server answered (no server needed: the
answers are built here)."""

import httpx

from bulkyard.cli.client import error_from_response


def _answer(status: int, **kwargs) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://h/api/v1/jobs/"), **kwargs)


def test_an_api_error_is_its_message_code_and_status():
    body = {"error": {"code": "job_finished", "message": "The job has finished.", "details": None}}

    error = error_from_response(_answer(409, json=body))

    assert error.message == "The job has finished. (job_finished, HTTP 409)"


def test_a_proxys_page_is_told_by_its_status():
    error = error_from_response(_answer(502, text="<html>Bad gateway</html>"))

    assert (error.message, error.transient) == (
        "the server answered HTTP 502 Bad Gateway",
        True,
    )


def test_an_outage_says_when_to_try_again():
    body = {"error": {"code": "service_unavailable", "message": "Try later.", "details": None}}

    error = error_from_response(_answer(503, json=body, headers={"Retry-After": "5"}))

    assert error.message == "Try later. (service_unavailable, HTTP 503); try again in 5 s"
    assert error.retry_after == 5
