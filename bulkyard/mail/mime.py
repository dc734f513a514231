"""The messages of a bulk email, built fast without leaving Django's email API.

Building and serialising a MIME tree with Django and the standard library
(``EmailMessage.message()`` then ``as_bytes()``) was half of everything a
worker spent per message. Most messages of a job differ
only in a few plain-ASCII headers and their bodies, so a chunk has Django build
one *skeleton* message whose per-recipient values are unique tokens, and each
recipient's bytes are that skeleton with the tokens replaced. A recipient whose
values Django would encode or fold (a non-ASCII or long subject, a body line
over 998 bytes, an address with a display name, ...) gets a message built by
Django the usual way. A property test checks that both ways give the same
bytes.

Messages are still ``EmailMultiAlternatives``: backends that read the fields
(django-anymail's providers) see the usual message, and the SMTP backend, which
calls ``message().as_bytes()``, gets the prepared bytes.
"""

from __future__ import annotations

import email
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from typing import Any

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT

# Where the generator splits lines (email.generator.NLCRE): every kind of line
# break in a text body becomes the message's line separator.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# What ends a line where the standard library writes a header (it folds values
# with str.splitlines). Django refuses only CR and LF in a header value; the
# others, in a value written unencoded (ASCII), end the header just the same,
# and the rest of the value becomes a line of its own: the headers after it
# fall into the body, or the line forges a header.
_HEADER_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Header values Django writes unchanged: printable ASCII words with single
# spaces, short enough for one line of 78 characters with the header's name.
_PLAIN_VALUE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*\Z")
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\Z"
)


class PreparedMIME:
    """Stands in for the MIME tree ``EmailMessage.message()`` returns: Django's
    backends only serialise it. Anything else is answered by the parsed
    message."""

    def __init__(self, data: bytes) -> None:
        self._data = data  # lines end in "\n", as as_bytes() gives by default
        self._message: Message | None = None

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if unixfrom:
            return self.parsed().as_bytes(unixfrom=True)
        return self._data if linesep == "\n" else self._data.replace(b"\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(unixfrom, linesep).decode("utf-8", "surrogateescape")

    def get_charset(self) -> None:
        return None

    def parsed(self) -> Message:
        if self._message is None:
            self._message = email.message_from_bytes(self._data)
        return self._message

    def __getitem__(self, name: str) -> Any:
        return self.parsed()[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy and pickle look for these
            raise AttributeError(name)
        return getattr(self.parsed(), name)


def holds_line_break(value: str) -> bool:
    """Whether a header value holds a character that would end its line."""
    return _HEADER_LINE_BREAK.search(value) is not None


class BulkEmailMessage(EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` that may carry its serialised form."""

    prepared: PreparedMIME | None = None

    def message(self) -> Any:
        if self.prepared is not None:
            return self.prepared  # its values are plain ASCII words
        for name, value in self._header_values():
            if holds_line_break(value):
                raise BadHeaderError(
                    f"Header values can't contain line breaks (got {value!r} for header {name!r})"
                )
        return super().message()

    def _header_values(self) -> list[tuple[str, str]]:
        return [
            ("Subject", str(self.subject)),
            ("From", str(self.from_email)),
            *(("To", str(value)) for value in self.to),
            *(("Cc", str(value)) for value in self.cc),
            *(("Reply-To", str(value)) for value in self.reply_to),
            *((name, str(value)) for name, value in self.extra_headers.items()),
        ]


@dataclass(frozen=True, slots=True)
class MessageParts:
    subject: str
    text: str
    html: str | None
    to: str
    message_id: str


@dataclass(frozen=True, slots=True)
class _Skeleton:
    # The skeleton's bytes split at its tokens: static, slot, static, slot, ...
    pieces: tuple[bytes | str, ...]
    boundaries: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class LetterForm:
    """What every message of a job shares."""

    from_email: str
    reply_to: tuple[str, ...]
    has_html: bool


AttachmentSpec = tuple[str, bytes, str | None]


class MessageBuilder:
    """Builds the messages of one chunk from skeletons Django built: one per set
    of attachments and per transfer encoding (7bit or 8bit) of each body."""

    def __init__(self, form: LetterForm) -> None:
        self.form = form
        self._skeletons: dict[tuple[Any, ...], _Skeleton | None] = {}
        self._token = f"bulkyard{uuid.uuid4().hex}"

    def build(self, parts: MessageParts, attachments: Sequence[AttachmentSpec]) -> BulkEmailMessage:
        """The message, prepared from a skeleton where its values allow."""
        date = formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
        message = self._django_message(parts, attachments, date=date)
        prepared = self._prepared(parts, attachments, date)
        if prepared is not None:
            message.prepared = PreparedMIME(prepared)
        return message

    def _prepared(
        self, parts: MessageParts, attachments: Sequence[AttachmentSpec], date: str
    ) -> bytes | None:
        """The skeleton filled with this message's values, or None when Django
        would write one of them differently (encoded, folded or re-wrapped)."""
        if not (
            _plain_value("Subject", parts.subject)
            and _plain_value("Message-ID", parts.message_id)
            and _plain_value("To", parts.to)
            and _PLAIN_ADDRESS.match(parts.to)
        ):
            return None
        text = _body(parts.text)
        html = _body(parts.html) if parts.html is not None else b""
        # Django leaves an empty text body out of the message altogether.
        if not text or html is None:
            return None
        names = tuple(name for name, _, _ in attachments)
        key = (names, text.isascii(), html.isascii())
        if key not in self._skeletons:
            self._skeletons[key] = self._make_skeleton(attachments, *key[1:])
        skeleton = self._skeletons[key]
        if skeleton is None or any(b in text or b in html for b in skeleton.boundaries):
            return None
        values = {
            "subject": parts.subject.encode(),
            "to": parts.to.encode(),
            "message_id": parts.message_id.encode(),
            "date": date.encode(),
            "text": text,
            "html": html,
        }
        return b"".join(
            piece if isinstance(piece, bytes) else values[piece] for piece in skeleton.pieces
        )

    def _django_message(
        self, parts: MessageParts, attachments: Sequence[AttachmentSpec], *, date: str
    ) -> BulkEmailMessage:
        message = BulkEmailMessage(
            subject=parts.subject,
            body=parts.text,
            from_email=self.form.from_email,
            to=[parts.to],
            reply_to=list(self.form.reply_to),
            # Set here rather than by message(): the same headers, in the
            # same order, whichever way the bytes are made.
            headers={"Date": date, "Message-ID": parts.message_id},
        )
        if parts.html is not None:
            message.attach_alternative(parts.html, "text/html")
        for name, content, content_type in attachments:
            message.attach(name, content, content_type or None)
        return message

    def _make_skeleton(
        self, attachments: Sequence[AttachmentSpec], text_ascii: bool, html_ascii: bool
    ) -> _Skeleton | None:
        token = self._token
        # A body token with a non-ASCII letter makes Django write that part
        # as 8bit, as it would the real body.
        parts = MessageParts(
            subject=f"{token}subject",
            text=f"{token}text" + ("" if text_ascii else "\u00e9"),
            html=(f"{token}html" + ("" if html_ascii else "\u00e9"))
            if self.form.has_html
            else None,
            to=f"{token}to@example.invalid",
            message_id=f"<{token}id@example.invalid>",
        )
        slots = {
            parts.subject: "subject",
            parts.to: "to",
            parts.message_id: "message_id",
            f"{token}date": "date",
            parts.text: "text",
        }
        if parts.html is not None:
            slots[parts.html] = "html"
        data = self._django_message(parts, attachments, date=f"{token}date").message().as_bytes()
        text = data.decode("utf-8", "surrogateescape")
        split = re.compile("(" + "|".join(map(re.escape, slots)) + ")").split(text)
        if sorted(split[1::2]) != sorted(slots):
            # Django wrote a value some other way (a future version, say):
            # build these messages the usual way.
            return None
        pieces = tuple(
            slots[piece] if index % 2 else piece.encode("utf-8", "surrogateescape")
            for index, piece in enumerate(split)
        )
        boundaries = tuple(b.encode() for b in re.findall(r'boundary="([^"]+)"', text))
        return _Skeleton(pieces, boundaries)


def _plain_value(header: str, value: str) -> bool:
    return len(header) + 2 + len(value) <= 78 and _PLAIN_VALUE.match(value) is not None


def _body(text: str) -> bytes | None:
    """A text part's body as Django writes it (8bit or 7bit), or None for one
    it would quote-print (a line over 998 bytes)."""
    try:
        data = _LINE_BREAK.sub("\n", text).encode()
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if len(data) > RFC5322_EMAIL_LINE_LENGTH_LIMIT and any(
        len(line.encode()) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()
    ):
        return None
    return data
