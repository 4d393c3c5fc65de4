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

from . import send_request
from .services import message_send

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


@csrf_exempt
def send_message(request):
    """POST /v1/messages/send: the published send API."""
    started = time.perf_counter()
    response, status = _answer(request)
    metrics.send_answered(status, time.perf_counter() - started)
    return response


def _answer(request):
    """(response, envelope status)."""
    if request.method != "POST":
        response = envelope(4005, "Use POST", 405)
        response["Allow"] = "POST"
        return response, 4005
    try:
        banned_until = _throttled_until(request)
        if banned_until is not None:
            retry_after = max(int(banned_until - time.time()), 1)
            raise Throttled("Too many failed attempts", headers={"Retry-After": str(retry_after)})
        data = send_request.decode_body(request)
        message_id, headers = message_send(request=send_request.validate(data))
    except Forbidden as exc:
        _record_auth_failure(request)
        return _send_error(exc), exc.status
    except ApiError as exc:
        return _send_error(exc), exc.status
    except Exception as exc:
        mapped = as_api_error(exc)
        if mapped is not None:
            return _send_error(mapped), mapped.status
        logger.exception("Send failed")
        return internal_error_response(), 500
    response = JsonResponse({"response": {"status": 200, "id": str(message_id)}})
    for name, value in headers.items():
        response[name] = value
    return response, 200
