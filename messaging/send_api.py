import datetime
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.views.decorators.csrf import csrf_exempt
from django.http import JsonResponse
from django_ratelimit.core import get_usage

from kilopush import metrics
from kilopush.cache import redis_usable
from kilopush.errors import ApiError, Forbidden, Throttled, as_api_error, envelope, internal_error_response
from kilopush.net import client_throttle_key, ratelimit_ip_key

from channels_app.selectors import channel_authenticated

from . import send_request
from .selectors import message_status
from .services import FORBIDDEN, message_send, message_withdraw

logger = logging.getLogger(__name__)

AUTH_FAILURE_GROUP = "send-auth-failure"


def _blocked_key(request):
    return f"send-blocked:{client_throttle_key(request)}"


def _throttled_until(request):
    """When this client's send ban ends (Unix time), or None. One cache read on the hot path."""
    if not redis_usable():
        return None  # Redis failed a moment ago: fail open without waiting on it again
    try:
        return cache.get(_blocked_key(request))
    except Exception:
        logger.warning("Rate-limit cache unreachable; not throttling failed sends", exc_info=True)
        return None


def _record_auth_failure(request):
    """Counts a 4003 with django-ratelimit; at the limit, bans the client until the window ends."""
    if not redis_usable():
        return
    try:
        usage = get_usage(
            request,
            group=AUTH_FAILURE_GROUP,
            key=ratelimit_ip_key,
            rate=settings.SEND_AUTH_FAILURE_RATE,
            increment=True,
        )
        if usage and usage["count"] >= usage["limit"] > 0:
            seconds = max(usage["time_left"], 1)
            cache.set(_blocked_key(request), int(time.time()) + seconds, timeout=seconds)
    except Exception:
        logger.warning("Rate-limit cache unreachable; failed send not counted", exc_info=True)


def _send_error(exc):
    # The published contract answers every send error with HTTP 400.
    return envelope(exc.status, exc.message, 400, exc.headers)


def _sender_endpoint(work, *, answered=None):
    """A sender's POST endpoint (send, status, withdraw): JSON or form body, every error HTTP 400 with the
    envelope, 4003 counted as a failed attempt, and a client over SEND_AUTH_FAILURE_RATE refused with 4029.

    `answered(status, seconds)` is told each answer's envelope status and time (the send API's metrics)."""

    @csrf_exempt
    def view(request):
        started = time.perf_counter()
        response, status = _answer(request, work)
        if answered is not None:
            answered(status, time.perf_counter() - started)
        return response

    view.__name__ = view.__qualname__ = work.__name__
    view.__doc__ = work.__doc__
    return view


def _send(request, data):
    """POST /v1/messages/send: the published send API."""
    header = request.META.get("HTTP_IDEMPOTENCY_KEY")
    message_id, headers = message_send(request=send_request.validate(data, idempotency_header=header))
    return {"id": str(message_id)}, headers


def _sender_request(data):
    """token, secret and id of a status or withdraw request (4005 in that order), then the channel (4003)."""
    token = send_request.required_string(data, "token")
    secret = send_request.required_string(data, "secret")
    message_id = send_request.message_id(data, "id", required=True)
    channel_id = channel_authenticated(token=token, secret=secret)
    if channel_id is None:
        raise Forbidden(FORBIDDEN)
    return channel_id, message_id


def _status(request, data):
    """POST /v1/messages/status: what became of one of the channel's messages."""
    channel_id, message_id = _sender_request(data)
    status = message_status(channel_id=channel_id, message_id=message_id)
    if status is None:
        raise Forbidden(FORBIDDEN)  # another channel's message answers like a wrong secret
    for name in ("created_at", "pushed_at", "read_at"):
        status[name] = _iso(status[name])
    return {"message": status}, {}


def _withdraw(request, data):
    """POST /v1/messages/withdraw: the channel takes one of its messages back (idempotent)."""
    channel_id, message_id = _sender_request(data)
    if not message_withdraw(channel_id=channel_id, message_id=message_id):
        raise Forbidden(FORBIDDEN)
    return {"id": str(message_id)}, {}


def _iso(value):
    if value is None:
        return None
    return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _answer(request, work):
    """(response, envelope status) of one sender request."""
    if request.method != "POST":
        response = envelope(4005, "Use POST", 405)
        response["Allow"] = "POST"
        return response, 4005
    try:
        banned_until = _throttled_until(request)
        if banned_until is not None:
            retry_after = max(int(banned_until - time.time()), 1)
            raise Throttled("Too many failed attempts", headers={"Retry-After": str(retry_after)})
        body, headers = work(request, send_request.decode_body(request))
    except Forbidden as exc:
        _record_auth_failure(request)
        return _send_error(exc), exc.status
    except ApiError as exc:
        return _send_error(exc), exc.status
    except Exception as exc:
        mapped = as_api_error(exc)
        if mapped is not None:
            return _send_error(mapped), mapped.status
        logger.exception("%s failed", work.__name__)
        return internal_error_response(), 500
    response = JsonResponse({"response": {"status": 200, **body}})
    for name, value in headers.items():
        response[name] = value
    return response, 200


send_message = _sender_endpoint(_send, answered=metrics.send_answered)
status_message = _sender_endpoint(_status)
withdraw_message = _sender_endpoint(_withdraw)
