import logging

from django.conf import settings
from django.views.decorators.csrf import csrf_exempt
from django.http import JsonResponse
from django_ratelimit.core import get_usage

from kilopush.errors import ApiError, Forbidden, Throttled, envelope, internal_error_response
from kilopush.net import ratelimit_ip_key

from . import send_request
from .services import message_send

logger = logging.getLogger(__name__)

AUTH_FAILURE_GROUP = "send-auth-failure"


def _auth_failures(request, *, increment):
    """django-ratelimit usage of this client's 4003s; None when the cache is unreachable (fail open)."""
    try:
        return get_usage(
            request,
            group=AUTH_FAILURE_GROUP,
            key=ratelimit_ip_key,
            rate=settings.SEND_AUTH_FAILURE_RATE,
            increment=increment,
        )
    except Exception:
        logger.warning("Rate-limit cache unreachable; not throttling failed sends", exc_info=True)
        return None


def _send_error(exc):
    # The published contract answers every send error with HTTP 400.
    return envelope(exc.status, exc.message, 400, exc.headers)


@csrf_exempt
def send_message(request):
    """POST /v1/messages/send: the published send API."""
    if request.method != "POST":
        response = envelope(4005, "Use POST", 405)
        response["Allow"] = "POST"
        return response
    try:
        usage = _auth_failures(request, increment=False)
        if usage and usage["count"] >= usage["limit"] > 0:
            raise Throttled("Too many failed attempts", headers={"Retry-After": str(max(usage["time_left"], 1))})
        data = send_request.decode_body(request)
        message_id, headers = message_send(request=send_request.validate(data))
    except Forbidden as exc:
        _auth_failures(request, increment=True)
        return _send_error(exc)
    except ApiError as exc:
        return _send_error(exc)
    except Exception as exc:
        from kilopush.errors import as_api_error

        mapped = as_api_error(exc)
        if mapped is not None:
            return _send_error(mapped)
        logger.exception("Send failed")
        return internal_error_response()
    response = JsonResponse({"response": {"status": 200, "id": str(message_id)}})
    for name, value in headers.items():
        response[name] = value
    return response
