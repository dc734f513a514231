import pytest

from bulkyard.core.emails import mailbox_address


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("shop@example.com", "shop@example.com"),
        ("Shop <shop@example.com>", "shop@example.com"),
        ('"Doe, Jo" <jo@example.com>', "jo@example.com"),
    ],
)
def test_the_address_of_one_mailbox_is_found_with_or_without_a_display_name(value, address):
    assert mailbox_address(value) == address


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a@example.com, b@example.com", "2 addresses where one is expected"),
        ("Doe, Jo <jo@example.com>", "2 addresses where one is expected"),
        ("Group: a@example.com;", "not one email address"),
        ("a@", "not an email address"),  # the header parser raises on it
        ("Shop <nope>", "not an email address"),
        ("", "not an email address"),
        ("a@example.com\r\nBcc: b@example.com", "line break"),
    ],
)
def test_anything_but_one_mailbox_is_refused_saying_why(value, reason):
    with pytest.raises(ValueError, match=reason):
        mailbox_address(value)
