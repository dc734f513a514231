"""email.send params at the API: refused with a 400 before any job exists."""

import pytest

from bulkyard.jobs.models import Job

pytestmark = pytest.mark.django_db

PARAMS = {"subject": "Hi {{ name }}", "text": "Hello {{ name }}"}
ITEMS = [{"email": "ada@example.com", "name": "Ada"}]


def _submit(client, **params):
    return client.post(
        "/api/v1/jobs/",
        {"kind": "email.send", "items": ITEMS, "params": {**PARAMS, **params}},
        format="json",
    )


def _refusal(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "invalid_params"
    assert not Job.objects.exists()
    return error


@pytest.mark.parametrize(
    "sender",
    [
        "a@x.example, b@evil.example",
        "<a@x.example>, <b@evil.example>",
        "a@x.example;b@evil.example",
        "Shop <a@x.example> <b@evil.example>",
        "a@x.example,",
        "Shop: a@x.example;",
    ],
)
def test_a_sender_naming_more_than_one_address_is_refused(api_client, sender):
    error = _refusal(_submit(api_client, from_email=sender))

    assert error["message"].startswith("params.from_email: ")
    assert error["details"][0]["field"] == "from_email"


def test_the_refusal_of_two_senders_says_one_is_expected(api_client):
    error = _refusal(_submit(api_client, from_email="a@x.example, b@evil.example"))

    assert "2 addresses where one is expected" in error["message"]


@pytest.mark.parametrize(
    "sender",
    ["shop@x.example", "Shop <shop@x.example>", '"Doe, Jo" <jo@x.example>', "Zoë <zoe@x.example>"],
)
def test_one_sender_with_or_without_a_display_name_is_accepted(api_client, sender):
    response = _submit(api_client, from_email=sender)

    assert response.status_code == 202, response.content


def test_a_reply_to_entry_naming_two_addresses_is_refused_naming_the_entry(api_client):
    error = _refusal(
        _submit(api_client, reply_to=["help@x.example", "a@x.example, b@evil.example"])
    )

    assert error["details"][0]["field"] == "reply_to.1"
    assert "2 addresses where one is expected" in error["message"]


def test_reply_to_entries_of_one_address_each_are_accepted(api_client):
    response = _submit(api_client, reply_to=["Support <help@x.example>", "sales@x.example"])

    assert response.status_code == 202, response.content


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{{ name|center:"30000000" }}', "BULKYARD_EMAIL_MAX_RENDERED_BYTES"),
        ("{% lorem 999999 w %}", "lorem"),
        (
            '{% for a in "' + "x" * 400 + '" %}{% for b in "' + "x" * 400 + '" %}{% endfor %}'
            "{% endfor %}",
            "BULKYARD_EMAIL_MAX_RENDER_STEPS",
        ),
    ],
    ids=["too-large", "lorem", "too-costly"],
)
def test_a_template_that_meets_a_bound_by_itself_is_refused(api_client, text, problem):
    error = _refusal(_submit(api_client, text=text))

    assert error["message"].startswith("params: text: ")
    assert problem in error["message"]
