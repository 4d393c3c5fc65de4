"""The one exception hierarchy of the API and its envelope.

Every API error leaves as {"response": {"status": <code>, "message": "..."}}.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions

from kilopush.answers import JsonAnswer

logger = logging.getLogger("kilopush.errors")


class ApiError(Exception):
    status = 500
    http_status = 500
    message = "Internal server error"

    def __init__(self, message=None, *, headers=None):
        if message is not None:
            self.message = message
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidHeaders(ApiError):
    status, http_status, message = 4000, 400, "Invalid request headers"


class NotAuthenticated(ApiError):
    status, http_status, message = 4001, 401, "Missing or invalid access token"


class Forbidden(ApiError):
    status, http_status, message = 4003, 403, "Forbidden"


class NotFound(ApiError):
    status, http_status, message = 4004, 404, "Not found"


class InvalidValue(ApiError):
    status, http_status, message = 4005, 400, "Invalid or forbidden values"


class IdempotencyKeyReused(ApiError):
    status, http_status, message = 4009, 400, "Idempotency key reused with a different message"


class Blocked(ApiError):
    status, http_status, message = 4023, 400, "Blocked"


class Blacklisted(ApiError):
    status, http_status, message = 4024, 400, "The recipient has blacklisted this channel"


class Throttled(ApiError):
    status, http_status, message = 4029, 429, "Too many requests"


# Every status code either API answers with, and what it means: the one table that the
# docs/'s code lists and both OpenAPI descriptions (app API and send API) are built from.
CODES = {
    4000: "invalid or missing headers, or a body that cannot be decoded",
    4001: "missing or invalid access token",
    4003: "not allowed (send API: token and secret match no channel; status and withdraw: also an id that is "
    "not one of the channel's messages, answered exactly alike)",
    4004: "not found, or not yours",
    4005: "a field missing, invalid or of the wrong type, a body that is not an object, "
    "or a method not allowed (send API: also an unknown recipient, or a replace that is not one of the "
    "channel's messages to that recipient)",
    4009: "Idempotency key reused with a different message (send API)",
    4023: "blocked by staff",
    4024: "the recipient has blacklisted the channel",
    4029: "too many requests, see Retry-After (send API: also the daily limit, see X-RateLimit-*)",
}


def describe_codes(*codes):
    """'4000: …; 4005: …' for the given codes, from CODES."""
    return "; ".join(f"{code}: {CODES[code]}" for code in codes)


def envelope(status, message, http_status, headers=None):
    response = JsonAnswer({"response": {"status": status, "message": message}}, status=http_status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(exc):
    return envelope(exc.status, exc.message, exc.http_status, exc.headers)


def internal_error_response():
    return envelope(500, "Internal server error", 500)


_DRF_MAP = {
    drf_exceptions.ParseError: InvalidHeaders,
    drf_exceptions.UnsupportedMediaType: InvalidHeaders,
    drf_exceptions.NotAuthenticated: NotAuthenticated,
    drf_exceptions.AuthenticationFailed: NotAuthenticated,
    drf_exceptions.PermissionDenied: Forbidden,
    drf_exceptions.NotFound: NotFound,
    drf_exceptions.ValidationError: InvalidValue,
    drf_exceptions.Throttled: Throttled,
}


def _validation_message(detail):
    """First readable message out of a DRF ValidationError detail."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _validation_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _validation_message(detail[0])
    return str(detail)


def as_api_error(exc):
    """Maps any exception we know how to describe to an ApiError, else None."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return InvalidHeaders("Request body too large")
    if isinstance(exc, Http404):
        # Django's own 404, e.g. DRF's content negotiation for an unknown `?format=`.
        return NotFound("Not found")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        err = ApiError(str(exc.detail))
        err.status, err.http_status = 4005, 405
        return err
    for drf_class, api_class in _DRF_MAP.items():
        if isinstance(exc, drf_class):
            if isinstance(exc, drf_exceptions.ValidationError):
                return api_class(_validation_message(exc.detail))
            headers = {}
            if isinstance(exc, drf_exceptions.Throttled) and exc.wait:
                headers["Retry-After"] = str(int(exc.wait))
            return api_class(str(exc.detail), headers=headers)
    return None


def drf_exception_handler(exc, context):
    api_error = as_api_error(exc)
    if api_error is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return internal_error_response()
    return error_response(api_error)


def is_api_path(path):
    return path.startswith("/v1/") or path == "/healthz"


class ApiErrorMiddleware:
    """Outside DRF views too, nothing under /v1/ answers with an HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    # Django answers some failures (bad Host header, CSRF, unknown URL, wrong method) with
    # an HTML page before or after any view runs; on the API they become envelopes.
    _HTML_STATUS_MAP = {
        400: (4000, "Bad request"),
        403: (4003, "Forbidden"),
        404: (4004, "No such endpoint"),
        405: (4005, "Method not allowed"),
        413: (4000, "Request body too large"),
    }

    def __call__(self, request):
        response = self.get_response(request)
        if is_api_path(request.path) and "json" not in response.get("Content-Type", ""):
            if response.status_code in self._HTML_STATUS_MAP:
                status, message = self._HTML_STATUS_MAP[response.status_code]
                return envelope(status, message, response.status_code)
            if response.status_code >= 500:
                return internal_error_response()
        return response

    def process_exception(self, request, exc):
        if not is_api_path(request.path):
            return None
        api_error = as_api_error(exc)
        if api_error is not None:
            return error_response(api_error)
        logger.exception("Unhandled error on %s", request.path, exc_info=exc)
        return internal_error_response()
