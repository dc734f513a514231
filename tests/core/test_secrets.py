import pytest

from bulkyard.core.secrets import MASK, mask_secrets, mask_url_query


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "smtp_password",
        "Authorization",
        "X-Api-Key",
        "api_key",
        "client_secret",
        "token",
        "webhook_signing_secret",
        "Cookie",
    ],
)
def test_secret_looking_names_are_masked(name):
    assert mask_secrets({name: "hunter2"}) == {name: MASK}


def test_masking_reaches_nested_headers_and_lists():
    params = {
        "requests": [{"url": "https://x", "headers": {"Authorization": "Bearer abc"}}],
        "subject": "Hello",
    }

    assert mask_secrets(params) == {
        "requests": [{"url": "https://x", "headers": {"Authorization": MASK}}],
        "subject": "Hello",
    }


def test_ordinary_names_are_kept():
    params = {"passes": 3, "tokenizer": "words", "text_field": "text"}

    assert mask_secrets(params) == params


def test_a_kind_can_name_extra_secret_params():
    assert mask_secrets({"dsn": "postgres://u:p@h/db"}, extra_names=("dsn",)) == {"dsn": MASK}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/cb?token=abc&id=7", f"https://h.example/cb?token={MASK}&id=7"),
        ("https://h.example/cb?X-Api-Key=abc", f"https://h.example/cb?X-Api-Key={MASK}"),
        ("https://h.example/cb?id=7&tag=a%20b", "https://h.example/cb?id=7&tag=a%20b"),
        ("https://h.example/cb", "https://h.example/cb"),
    ],
)
def test_urls_are_shown_with_secret_looking_query_values_masked(url, shown):
    assert mask_url_query(url) == shown
