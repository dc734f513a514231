"""Our Standard Webhooks signatures, checked by the reference library."""

import base64

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bulkyard.core.signing import InvalidSecret, secret_key, webhook_headers

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_the_reference_library_verifies_our_signature():
    headers = webhook_headers(
        secret_key(SECRET), message_id="msg_1", timestamp=_now(), body=b'{"a":1}'
    )

    assert Webhook(SECRET).verify(b'{"a":1}', headers) == {"a": 1}


def test_a_signature_does_not_verify_another_body():
    headers = webhook_headers(
        secret_key(SECRET), message_id="msg_1", timestamp=_now(), body=b'{"a":1}'
    )

    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"a":2}', headers)


@pytest.mark.parametrize("secret", ["plain", "whsec_not base64!", "whsec_" + "QUJD"])
def test_a_malformed_secret_is_refused(secret):
    with pytest.raises(InvalidSecret):
        secret_key(secret)


def _now() -> int:
    import time

    return int(time.time())
