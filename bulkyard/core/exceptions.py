"""One error shape for every API error: ``{"error": {"code", "message", "details"}}``."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from bulkyard.core.outages import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, is_outage


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the configured limit."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class InvalidRequest(exceptions.APIException):
    """A 400 with a specific machine-readable code and optional details."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, code)
        self.error_code = code
        self.error_details = details


class Forbidden(exceptions.APIException):
    """A 403 with a specific machine-readable code."""

    status_code = status.HTTP_403_FORBIDDEN

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)
        self.error_code = code


class TooManyRequests(exceptions.APIException):
    """A 429 with a specific code and details, and a ``Retry-After`` of
    ``wait`` seconds (at least 1: DRF leaves the header out for 0)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, code: str, message: str, *, wait: int, details: Any = None) -> None:
        super().__init__(message, code)
        self.error_code = code
        self.error_details = details
        self.wait = max(wait, 1)


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    return str(detail)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = UNAVAILABLE_MESSAGE
    default_code = "service_unavailable"
    # Seconds; DRF sends it as Retry-After.
    wait = RETRY_AFTER_SECONDS


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if is_outage(exc):
        # The database or Redis is away: say so, and when to come back,
        # rather than a 500 that reads as a bug.
        exc = ServiceUnavailable()
    # DRF answers these as its own NotFound and PermissionDenied but keeps the
    # original exception, whose codes it cannot give: convert them first, so
    # a job that is not yours says "not_found" like an unknown path does.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "error_code", None)
    if code is None and isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid"
    data = response.data
    details = getattr(exc, "error_details", None)
    if details is None and isinstance(data, dict | list) and not _only_detail(data):
        details = data
    response.data = {
        "error": {"code": code or "error", "message": _first_message(data), "details": details}
    }
    return response


def _only_detail(data: Any) -> bool:
    return isinstance(data, dict) and set(data) == {"detail"}
