"""The ``http.request`` and ``webhook.send`` job kinds."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bulkyard.core.http.client import CallOutcome, RequestSpec
from bulkyard.core.http.options import CallOptions
from bulkyard.core.http.safety import InvalidURL, Refused, check_url
from bulkyard.core.secrets import mask_secrets
from bulkyard.core.signing import InvalidSecret, secret_key
from bulkyard.jobs.sdk import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    failure,
    failures_by_code,
    register,
    summed_counts,
)
from bulkyard.outbound.services import ChunkCalls
from bulkyard.outbound.specs import (
    CONTROL_IN_VALUE,
    PLACEHOLDER,
    checked_headers,
    delivery_id,
    fill,
    fill_json,
    parse_json_field,
    request_spec,
    webhook_spec,
)


def _at_most(value: float | int | None, limit: float | int, name: str) -> None:
    if value is not None and value > limit:
        raise ValueError(f"{name} may be at most {limit:g} on this server")


class DeliveryParams(BaseModel):
    """How requests are made; the server's settings cap every value."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Headers added to every request. Put credentials (Authorization, API "
        "keys) here: they are masked wherever the job is shown and kept by retries.",
    )
    concurrency: int = Field(50, ge=1, description="Requests in flight per running chunk.")
    per_host_concurrency: int | None = Field(
        None, ge=1, description="Requests in flight per host, across all workers."
    )
    per_host_rate: float | None = Field(
        None, gt=0, description="Requests per second per host, across all workers."
    )
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0, description="Longest wait for the next bytes.")
    total_timeout: float = Field(60.0, gt=0, description="Longest one attempt may take.")
    max_attempts: int = Field(
        3, ge=1, description="Tries per request for connect errors, timeouts, 408, 429, 5xx."
    )
    follow_redirects: bool = True
    max_redirects: int = Field(5, ge=0)
    max_body_bytes: int = Field(
        65_536, ge=0, description="Response bytes kept per request; the rest is not read."
    )

    @field_validator("headers")
    @classmethod
    def _headers_are_valid(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            return checked_headers(value, where="headers")
        except ItemError as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _within_server_limits(self) -> DeliveryParams:
        _at_most(self.concurrency, settings.BULKYARD_HTTP_MAX_CONCURRENCY, "concurrency")
        _at_most(
            self.per_host_concurrency,
            settings.BULKYARD_HTTP_HOST_CONCURRENCY,
            "per_host_concurrency",
        )
        _at_most(self.per_host_rate, settings.BULKYARD_HTTP_HOST_RATE_PER_SECOND, "per_host_rate")
        _at_most(self.connect_timeout, settings.BULKYARD_HTTP_CONNECT_TIMEOUT, "connect_timeout")
        _at_most(self.read_timeout, settings.BULKYARD_HTTP_READ_TIMEOUT, "read_timeout")
        _at_most(self.total_timeout, settings.BULKYARD_HTTP_TOTAL_TIMEOUT, "total_timeout")
        _at_most(self.max_attempts, settings.BULKYARD_HTTP_MAX_ATTEMPTS, "max_attempts")
        _at_most(self.max_redirects, settings.BULKYARD_HTTP_MAX_REDIRECTS, "max_redirects")
        _at_most(self.max_body_bytes, settings.BULKYARD_HTTP_MAX_BODY_BYTES, "max_body_bytes")
        return self

    def call_options(self) -> CallOptions:
        return CallOptions.from_settings(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            max_attempts=self.max_attempts,
            follow_redirects=self.follow_redirects,
            max_redirects=self.max_redirects,
            max_body_bytes=self.max_body_bytes,
            host_concurrency=self.per_host_concurrency,
            host_rate_per_second=self.per_host_rate,
        )


_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


def _url_template(value: str) -> str:
    """A URL template, checked now if its scheme and host hold no placeholder
    (a refused destination is a 400 before the job exists)."""
    origin = _ORIGIN.match(value)
    fixed = origin.group(0) if origin else value
    if not PLACEHOLDER.search(fixed):
        try:
            check_url(fixed)
        except (InvalidURL, Refused) as exc:
            raise ValueError(str(exc)) from None
    return value


class RequestTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str = "GET"
    url: str = Field(description="e.g. 'https://api.example.com/users/{user_id}'")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(None, alias="json", description="A JSON body with placeholders.")

    @field_validator("url")
    @classmethod
    def _url_is_allowed(cls, value: str) -> str:
        return _url_template(value)


class HttpRequestParams(DeliveryParams):
    request: RequestTemplate | None = Field(
        None,
        description="One request for every row, '{column}' placeholders filled from the row "
        "(percent-encoded in the URL). Without it, each row is a request: method, url, "
        "headers (JSON object), body or json.",
    )


class WebhookParams(DeliveryParams):
    url: str = Field(description="Where deliveries go; may hold '{column}' placeholders.")
    secret: str = Field(description="Signing secret, 'whsec_' + base64 (Standard Webhooks).")
    event_type: str | None = Field(
        None, description="If set, each payload is sent as {type, timestamp, data}."
    )
    id_field: str | None = Field(
        None,
        description="A field of each row holding its delivery id; by default the id is "
        "derived from the job and the row's number, stable across reruns and retries.",
    )

    @field_validator("url")
    @classmethod
    def _url_is_allowed(cls, value: str) -> str:
        return _url_template(value)

    @field_validator("secret")
    @classmethod
    def _secret_is_valid(cls, value: str) -> str:
        try:
            secret_key(value)
        except InvalidSecret as exc:
            raise ValueError(str(exc)) from None
        return value


@dataclass(slots=True)
class ChunkFacts:
    """What a kind looks up once per chunk, and notes per item on the way."""

    root_job_id: str = ""
    created_at: str = ""
    signing_key: bytes = b""
    delivery_ids: dict[int, str] = field(default_factory=dict)


class _OutboundKind(JobKind[Any]):
    queue_class = "io"
    chunk_size = 500
    max_chunk_size = 10_000
    output_columns: ClassVar[tuple[str, ...]] = (
        "status",
        "latency_ms",
        "attempts",
        "url",
        "body",
        "body_truncated",
    )
    # Sending an unknown request again could do it twice.
    not_retried_codes = frozenset({"outcome_unknown"})

    def spec(self, item: Item, params: Any, facts: ChunkFacts) -> RequestSpec:
        raise NotImplementedError

    def chunk_facts(self, ctx: ChunkContext[Any]) -> ChunkFacts:
        return ChunkFacts()

    def process_chunk(self, items: Iterable[Item], ctx: ChunkContext[Any]) -> ChunkResult:
        params = ctx.params
        facts = self.chunk_facts(ctx)
        result = ChunkResult()
        specs: list[RequestSpec] = []
        inputs: dict[int, Any] = {}
        for item in items:
            if item.error is not None:
                result.items.append(_failure(item, item.error))
                continue
            try:
                if not isinstance(item.data, dict):
                    raise ItemError("invalid_item", f"line {item.number}: expected an object")
                specs.append(self.spec(item, params, facts))
            except ItemError as exc:
                result.items.append(_failure(item, exc))
                continue
            inputs[item.number] = item.data
        calls = ChunkCalls(
            job_id=ctx.job_id,
            options=params.call_options(),
            concurrency=params.concurrency,
            should_stop=ctx.should_stop,
        )
        for outcome in calls.run(specs):
            result.items.append(self.item_result(outcome, inputs[outcome.number], facts))
        result.items.sort(key=lambda entry: entry.number)
        result.summary = self.summarize_chunk(result, ctx)
        return result

    def item_result(self, outcome: CallOutcome, data: Any, facts: ChunkFacts) -> ItemResultData:
        if outcome.succeeded:
            return ItemResultData(number=outcome.number, succeeded=True, output=outcome.output)
        return ItemResultData(
            number=outcome.number,
            succeeded=False,
            input=stored_input(data),
            output=outcome.output,
            code=outcome.code,
            message=outcome.message,
        )

    def summarize_chunk(self, result: ChunkResult, ctx: ChunkContext[Any]) -> dict[str, Any]:
        statuses = Counter(
            str(status)
            for item in result.items
            if (status := (item.output or {}).get("status")) is not None
        )
        return {"by_status": dict(statuses), "failed_by_code": failures_by_code(result)}

    def finish(self, ctx: FinishContext[Any]) -> FinishResult:
        totals = {
            section: summed_counts(summary.get(section) for summary in ctx.chunk_summaries)
            for section in ("by_status", "failed_by_code")
        }
        return FinishResult(summary={"succeeded": ctx.counts["succeeded"], **totals})


def _failure(item: Item, error: ItemError) -> ItemResultData:
    """The engine's failure of an item, its input kept with secrets masked."""
    result = failure(item, error.code, error.message)
    result.input = stored_input(result.input)
    return result


def stored_input(data: Any) -> Any:
    """An item as its failure is recorded: secret-looking headers masked, also
    inside a CSV cell of JSON."""
    if isinstance(data, dict) and isinstance(data.get("headers"), str):
        try:
            headers = json.loads(data["headers"])
        except json.JSONDecodeError:
            headers = None
        if isinstance(headers, dict):
            data = {**data, "headers": json.dumps(mask_secrets(headers))}
    return mask_secrets(data)


@register
class HttpRequestKind(_OutboundKind):
    """One HTTP request per row, many in flight, each host treated politely."""

    name = "http.request"
    title = "Outbound HTTP requests"
    description = (
        "One HTTP request per row: each row a request (method, url, headers, body or json), "
        "or one request template whose '{column}' placeholders are filled from each row. "
        "Requests to internal addresses are refused; each host gets a shared concurrency cap "
        "and rate; connect errors, timeouts, 408, 429 and 5xx are retried with backoff "
        "(Retry-After honoured). Results give each request's status, latency, headers and "
        "body (truncated), or the error."
    )
    params_model = HttpRequestParams
    example_item = {"method": "GET", "url": "https://api.example.com/users/42"}
    example_params = {"concurrency": 10, "headers": {"Accept": "application/json"}}

    def spec(self, item: Item, params: HttpRequestParams, facts: ChunkFacts) -> RequestSpec:
        row = item.data
        where = f"line {item.number}"
        template = params.request
        if template is not None:
            headers = {
                name: fill(value, row, where=where) for name, value in template.headers.items()
            }
            return request_spec(
                item.number,
                method=template.method,
                url=fill(template.url, row, where=where, in_url=True),
                headers=checked_headers({**params.headers, **headers}, where=where),
                body=fill(template.body, row, where=where) if template.body is not None else None,
                json_body=fill_json(template.json_body, row, where=where)
                if template.json_body is not None
                else None,
                where=where,
            )
        json_body = row.get("json")
        return request_spec(
            item.number,
            method=str(row.get("method") or "GET"),
            url=row.get("url") or "",
            headers={**params.headers, **checked_headers(row.get("headers"), where=where)},
            body=row["body"] if isinstance(row.get("body"), str) and row["body"] != "" else None,
            json_body=parse_json_field(json_body, where=where)
            if json_body not in (None, "")
            else None,
            where=where,
        )


@register
class WebhookKind(_OutboundKind):
    """Signed webhook deliveries (Standard Webhooks), one per row."""

    name = "webhook.send"
    title = "Webhook deliveries"
    description = (
        "POSTs each row as a JSON payload to the URL, signed per Standard Webhooks "
        "(webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256). Each delivery keeps "
        "one id across attempts, reruns and retries so receivers can drop repeats. Same "
        "safety, politeness and retries as http.request."
    )
    params_model = WebhookParams
    secret_params = ("secret",)
    example_item = {"order_id": "A-1001", "status": "shipped"}
    example_params = {
        "url": "https://hooks.example.com/orders",
        "secret": "whsec_REPLACEwithYOURownSECRETxxxxxxxxxxxx",
        "event_type": "order.shipped",
    }

    output_columns = ("delivery_id", *_OutboundKind.output_columns)

    def chunk_facts(self, ctx: ChunkContext[Any]) -> ChunkFacts:
        created = ctx.job_created_at
        if created is None:
            raise ValueError("a webhook's timestamp needs the job's creation time")
        return ChunkFacts(
            root_job_id=ctx.root_job_id,
            created_at=created.isoformat(),
            signing_key=secret_key(ctx.params.secret),
        )

    def spec(self, item: Item, params: WebhookParams, facts: ChunkFacts) -> RequestSpec:
        row = item.data
        where = f"line {item.number}"
        if params.id_field:
            message_id = str(row.get(params.id_field) or "")
            if not message_id:
                raise ItemError("missing_value", f"{where}: no delivery id in {params.id_field!r}")
            # It travels in the webhook-id header, where aiohttp refuses them.
            if CONTROL_IN_VALUE.search(message_id):
                raise ItemError(
                    "invalid_value",
                    f"{where}: the delivery id in {params.id_field!r} holds a line break or "
                    "another control character",
                )
        else:
            message_id = delivery_id(facts.root_job_id, item.number)
        facts.delivery_ids[item.number] = message_id
        payload: Any = row
        if params.event_type:
            payload = {"type": params.event_type, "timestamp": facts.created_at, "data": row}
        return webhook_spec(
            item.number,
            url=fill(params.url, row, where=where, in_url=True),
            headers=params.headers,
            payload=payload,
            key=facts.signing_key,
            message_id=message_id,
        )

    def item_result(self, outcome: CallOutcome, data: Any, facts: ChunkFacts) -> ItemResultData:
        result = super().item_result(outcome, data, facts)
        result.output = {"delivery_id": facts.delivery_ids.get(outcome.number), **result.output}
        return result
