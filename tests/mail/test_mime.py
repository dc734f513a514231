"""Messages prepared from a skeleton are byte for byte what Django writes."""

import re
import string
from email.utils import make_msgid

import pytest
from django.core import mail
from django.core.mail import BadHeaderError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bulkyard.mail.mime import BulkEmailMessage, LetterForm, MessageBuilder, MessageParts

ATTACHMENTS = [
    ("notes.txt", "Grüße\nsecond line\n".encode(), "text/plain"),
    ("data.bin", bytes(range(256)) * 3, None),
    ("page.html", b"<p>hi</p>", "text/html"),
]
FORMS = [
    LetterForm("shop@example.com", (), has_html=False),
    LetterForm("Shop <shop@example.com>", ("help@example.com",), has_html=True),
    LetterForm('"Müller, Shop" <shop@example.com>', ("a@example.com", "b@example.com"), True),
]


def _django_bytes(message: BulkEmailMessage, boundaries: list[bytes]) -> bytes:
    """What Django writes for the same message, given the same MIME boundaries
    (Django picks them at random)."""
    message.prepared = None
    tree = message.message()
    chosen = iter(boundaries)
    for part in tree.walk():
        if part.is_multipart():
            part.set_boundary(next(chosen).decode())
    return tree.as_bytes(linesep="\r\n")


def _assert_same_as_django(message: BulkEmailMessage) -> None:
    assert message.prepared is not None
    prepared = message.prepared.as_bytes(linesep="\r\n")
    boundaries = re.findall(rb'boundary="([^"]+)"', prepared)
    assert prepared == _django_bytes(message, boundaries)


line_text = st.text(alphabet=st.sampled_from(string.printable + "éß€😀\u2028\x85 "), max_size=120)
subjects = st.one_of(
    # Mostly ones that can be prepared, then anything.
    st.from_regex(r"[A-Za-z0-9=?!:;,._-]{1,20}( [A-Za-z0-9=?!:;,._-]{1,12}){0,5}", fullmatch=True),
    st.text(alphabet=string.ascii_letters + string.digits + " =?!:;,.-_", max_size=90),
    line_text,
)
addresses = st.one_of(
    st.emails().filter(lambda address: len(address) < 60),
    st.from_regex(r"[a-z0-9._+-]{1,30}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True),
)
message_ids = st.builds(
    "<{}.{}.bulkyard@{}>".format,
    st.integers(0, 10**12),
    st.integers(0, 2**64),
    st.sampled_from(["example.com", "x" * 80 + ".example.com", "bücher.example"]),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    form=st.sampled_from(FORMS),
    subject=subjects,
    text=st.one_of(line_text, st.text(st.characters(exclude_categories=["Cs"]), max_size=2500)),
    html=st.one_of(line_text, st.text(max_size=300)),
    to=addresses,
    message_id=message_ids,
    attachments=st.lists(st.sampled_from(ATTACHMENTS), max_size=3, unique=True),
)
def test_a_prepared_message_has_the_bytes_django_would_write(
    form, subject, text, html, to, message_id, attachments
):
    builder = MessageBuilder(form)
    parts = MessageParts(subject, text, html if form.has_html else None, to, message_id)

    message = builder.build(parts, attachments)

    event("prepared" if message.prepared is not None else "built by Django")
    if message.prepared is not None:
        _assert_same_as_django(message)


def test_a_typical_message_is_prepared_not_built_by_django():
    builder = MessageBuilder(FORMS[1])
    parts = MessageParts(
        subject="Your order A-000123",
        text="Hello Ada,\n\nyour order A-000123 has shipped.\n",
        html="<p>Hello Ada, your order <b>A-000123</b> has shipped.</p>",
        to="ada@example.com",
        message_id=make_msgid(idstring="bulkyard", domain="example.com"),
    )

    message = builder.build(parts, ATTACHMENTS[:1])

    _assert_same_as_django(message)


def test_bodies_in_8bit_and_7bit_each_get_their_own_skeleton():
    builder = MessageBuilder(FORMS[1])
    for text, html in [("plain", "plain"), ("Grüße", "plain"), ("plain", "Grüße"), ("é", "ß")]:
        message = builder.build(
            MessageParts("Hi", text, html, "ada@example.com", "<1.2@example.com>"), []
        )
        _assert_same_as_django(message)


def test_a_subject_django_would_encode_is_left_to_django():
    builder = MessageBuilder(FORMS[0])
    parts = MessageParts("Grüße", "Hello", None, "ada@example.com", "<1.2@example.com>")

    message = builder.build(parts, [])

    assert message.prepared is None
    assert "=?utf-8?" in message.message().as_string()


@pytest.mark.parametrize(("length", "prepared"), [(69, True), (70, False)])
def test_a_subject_is_prepared_only_while_it_fits_one_header_line(length, prepared):
    subject = ("word " * 20)[: length - 1] + "x"
    builder = MessageBuilder(FORMS[0])
    message = builder.build(
        MessageParts(subject, "Hello", None, "ada@example.com", "<1.2@example.com>"), []
    )

    assert (message.prepared is not None) is prepared
    if prepared:
        _assert_same_as_django(message)
    else:
        assert "Subject: word" in message.message().as_string().replace("\n ", " ")


@pytest.mark.parametrize("line_break", ["\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"])
@pytest.mark.parametrize("header", ["subject", "to"])
def test_a_header_value_holding_a_line_break_is_refused_when_the_message_is_written(
    header, line_break
):
    # A quoted local part may hold a vertical tab or a form feed (RFC 5321).
    hostile = {"subject": f"Hi{line_break}X-Forged : 1", "to": f'"a{line_break}b"@example.com'}
    values = {"subject": "Hi", "to": "ada@example.com", header: hostile[header]}
    builder = MessageBuilder(FORMS[0])
    message = builder.build(
        MessageParts(values["subject"], "Hello", None, values["to"], "<1.2@example.com>"), []
    )

    with pytest.raises(BadHeaderError, match="line break"):
        message.message()


def test_a_body_holding_the_skeletons_boundary_is_left_to_django():
    builder = MessageBuilder(FORMS[1])
    first = builder.build(
        MessageParts("Hi", "Body", "<p>Body</p>", "ada@example.com", "<1.2@example.com>"), []
    )
    assert first.prepared is not None
    boundary = re.search(rb'boundary="([^"]+)"', first.prepared.as_bytes()).group(1).decode()

    second = builder.build(
        MessageParts("Hi", f"--{boundary}\nforged part", "<p/>", "bo@example.com", "<3@x.y>"), []
    )

    assert second.prepared is None


def test_a_body_line_longer_than_998_bytes_is_left_to_django_to_quote_print():
    builder = MessageBuilder(FORMS[0])
    parts = MessageParts("Hi", "x" * 999, None, "ada@example.com", "<1.2@example.com>")

    message = builder.build(parts, [])

    assert message.prepared is None
    assert "quoted-printable" in message.message().as_string()


def test_a_prepared_message_reaches_a_backend_that_serialises_it(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    builder = MessageBuilder(FORMS[1])
    message = builder.build(
        MessageParts("Hi", "Body", "<p>Body</p>", "ada@example.com", "<1.2@example.com>"), []
    )

    assert mail.get_connection().send_messages([message]) == 1

    sent = mail.outbox[0]
    assert sent.message()["Subject"] == "Hi"
    assert sent.message()["To"] == "ada@example.com"
    assert sent.message().get_payload()[1].get_payload() == "<p>Body</p>"
