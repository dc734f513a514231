"""Telling secrets by their names and masking them: credentials that travel
in job params, request headers or item inputs stay out of every view of them."""

import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Param names that hold credentials, whatever the kind: SMTP passwords, API
# keys, Authorization headers, signing secrets. Names are compared with case
# and separators removed ("X-Api-Key" -> "xapikey").
SECRET_ENDINGS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "signingkey",
    "cookie",
    "credential",
    "credentials",
)
SECRET_NAMES = frozenset({"authorization", "authorisation", "pass", "pwd"})


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", name.lower())
    return (
        normalized in SECRET_NAMES
        or normalized.endswith(SECRET_ENDINGS)
        or "secret" in normalized
        or "password" in normalized
    )


MASK = "••••••"


def mask_secrets(value: Any, *, extra_names: tuple[str, ...] = ()) -> Any:
    """A copy of ``value`` with every value under a secret-looking key (or one
    of ``extra_names``) replaced by a mask, at any depth."""
    if isinstance(value, dict):
        return {
            key: MASK
            if isinstance(key, str) and (key in extra_names or is_secret_name(key))
            else mask_secrets(item, extra_names=extra_names)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item, extra_names=extra_names) for item in value]
    return value


def mask_url_query(url: str) -> str:
    """The URL with the values of its secret-looking query parameters masked
    (``?token=…``, ``&api_key=…``): URLs that come back in answers end up in
    logs and histories. The rest of the URL is kept as it was written."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    fields = []
    for field in parts.query.split("&"):
        name, equals, _ = field.partition("=")
        fields.append(f"{name}={MASK}" if equals and is_secret_name(unquote_plus(name)) else field)
    return urlunsplit(parts._replace(query="&".join(fields)))
