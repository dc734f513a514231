"""Webhook signatures in the Standard Webhooks format (standardwebhooks.com):
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256
of "{id}.{timestamp}.{body}">``, keyed with the secret's bytes (``whsec_`` + base64).
Receivers verify with any Standard Webhooks library; the tests use an independent one.

In ``core`` because two parts sign: the ``webhook.send`` kind and the engine's
completion callbacks, and the engine may import no kind app."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret


class InvalidSecret(ValueError):
    pass


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_...`` secret; raises ``InvalidSecret``."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("a webhook secret starts with 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise InvalidSecret("the part after 'whsec_' is not base64") from None
    if not 24 <= len(key) <= 64:
        raise InvalidSecret("a webhook secret holds 24 to 64 bytes (32 recommended)")
    return key


def signature(key: bytes, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(key: bytes, *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id=message_id, timestamp=timestamp, body=body),
    }
