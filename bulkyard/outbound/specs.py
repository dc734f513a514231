"""Turning input rows into requests: literal requests, or one template with
``{placeholders}`` filled from each row, or webhook payloads."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bulkyard.core.http.client import REPLAY_SAFE_METHODS, RequestSpec
from bulkyard.core.secrets import MASK
from bulkyard.core.signing import webhook_headers
from bulkyard.jobs.sdk import ItemError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# What a header value may not hold (RFC 9110: control characters but the tab):
# a line break could forge a header, and aiohttp refuses the others with a
# ValueError, which would fail the row as an unexpected error.
CONTROL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Headers the client sets itself; a request may not forge them.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
DELIVERY_NAMESPACE = uuid.UUID("0b4b8f64-7f5a-4f0e-9c55-3c1d8f0f2a61")


def checked_headers(raw: Any, *, where: str) -> dict[str, str]:
    """Header names and values as strings; no control characters, no reserved names."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ItemError("invalid_headers", f"{where}: headers are not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ItemError("invalid_headers", f"{where}: headers must be a JSON object")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise ItemError("invalid_headers", f"{where}: {name!r} is not a header name")
        if name.lower() in RESERVED_HEADERS:
            raise ItemError("invalid_headers", f"{where}: the {name} header is set by the client")
        text = value if isinstance(value, str) else json.dumps(value)
        if CONTROL_IN_VALUE.search(text):
            raise ItemError(
                "invalid_headers",
                f"{where}: the value of {name} holds a line break or another control character",
            )
        if text == MASK:
            raise ItemError(
                "secret_not_kept",
                f"{where}: the {name} header was masked when this item's failure was recorded; "
                "send credentials in params.headers, which retries keep",
            )
        headers[name] = text
    return headers


def fill(template: str, row: Mapping[str, Any], *, where: str, in_url: bool = False) -> str:
    """The template with each ``{name}`` replaced by the row's value. In a URL,
    values are percent-encoded (they cannot add a path, query or host), unless
    the whole URL is one placeholder."""
    if in_url and PLACEHOLDER.fullmatch(template):
        return _value(row, PLACEHOLDER.fullmatch(template).group(1), where)  # type: ignore[union-attr]

    def replace(match: re.Match[str]) -> str:
        value = _value(row, match.group(1), where)
        return quote(value, safe="") if in_url else value

    return PLACEHOLDER.sub(replace, template)


def _value(row: Mapping[str, Any], name: str, where: str) -> str:
    if name not in row:
        raise ItemError("missing_value", f"{where}: the row has no {name!r} for {{{name}}}")
    value = row[name]
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def fill_json(template: Any, row: Mapping[str, Any], *, where: str) -> Any:
    """A JSON template with placeholders in its strings; a string that is one
    placeholder takes the row's value as it is (a number stays a number)."""
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            if whole.group(1) not in row:
                raise ItemError("missing_value", f"{where}: the row has no {whole.group(1)!r}")
            return row[whole.group(1)]
        return fill(template, row, where=where)
    if isinstance(template, list):
        return [fill_json(item, row, where=where) for item in template]
    if isinstance(template, dict):
        return {key: fill_json(value, row, where=where) for key, value in template.items()}
    return template


def request_spec(
    number: int,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: str | None,
    json_body: Any,
    where: str,
) -> RequestSpec:
    method = method.upper()
    if method not in METHODS:
        raise ItemError("invalid_method", f"{where}: {method!r} is not one of {sorted(METHODS)}")
    if not isinstance(url, str) or not url.strip():
        raise ItemError("invalid_url", f"{where}: no URL")
    data: bytes | None = None
    if json_body is not None:
        if body is not None:
            raise ItemError("invalid_body", f"{where}: give either body or json, not both")
        data = json.dumps(json_body, ensure_ascii=False).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers = {**headers, "Content-Type": "application/json"}
    elif body is not None:
        data = body.encode()
    idempotent = method in REPLAY_SAFE_METHODS or any(
        name.lower() == "idempotency-key" for name in headers
    )
    return RequestSpec(
        number=number,
        method=method,
        url=url.strip(),
        headers=headers,
        body=data,
        replay_safe=idempotent,
    )


def parse_json_field(value: Any, *, where: str) -> Any:
    """A ``json`` field: CSV cells hold JSON text; JSON Lines hold the value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ItemError("invalid_body", f"{where}: json is not valid JSON: {exc}") from None
    return value


def delivery_id(root_job_id: str, number: int) -> str:
    """A webhook's id: the same for every attempt, rerun and retry job of the
    item, so receivers can drop repeats."""
    return "msg_" + uuid.uuid5(DELIVERY_NAMESPACE, f"{root_job_id}:{number}").hex


def webhook_spec(
    number: int,
    *,
    url: str,
    headers: dict[str, str],
    payload: Any,
    key: bytes,
    message_id: str,
) -> RequestSpec:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def signer(data: bytes) -> dict[str, str]:
        return webhook_headers(key, message_id=message_id, timestamp=int(time.time()), body=data)

    return RequestSpec(
        number=number,
        method="POST",
        url=url,
        headers={**headers, "Content-Type": "application/json"},
        body=body,
        signer=signer,
        replay_safe=True,
    )
