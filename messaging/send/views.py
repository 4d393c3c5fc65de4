import datetime
import logging
import time

from django.views.decorators.csrf import csrf_exempt

from kilopush import metrics
from kilopush.answers import JsonAnswer
from kilopush.errors import ApiError, Forbidden, as_api_error, envelope, internal_error_response

from channels_app.selectors import channel_authenticated

from .. import bans
from ..selectors import message_status
from ..services import message_withdraw
from . import request as send_request
from .service import FORBIDDEN, message_send

logger = logging.getLogger(__name__)

def _send_error(exc):
    # The published contract answers every send error with HTTP 400.
    return envelope(exc.status, exc.message, 400, exc.headers)


def _sender_endpoint(work, *, answered=None):
    """A sender's POST endpoint (send, status, withdraw): JSON or form body, every error HTTP 400 with the
    envelope, 4003 counted as a failed attempt, and a client over SEND_AUTH_FAILURE_RATE refused with 4029.
    `work(request, data, ban)` makes the ban check (bans.Check) before any change it makes.

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


def _send(request, data, ban):
    """POST /v1/messages/send: the published send API."""
    header = request.META.get("HTTP_IDEMPOTENCY_KEY")
    message_id, headers = message_send(request=send_request.validate(data, idempotency_header=header), ban=ban)
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


def _status(request, data, ban):
    """POST /v1/messages/status: what became of one of the channel's messages."""
    ban.refuse()
    channel_id, message_id = _sender_request(data)
    status = message_status(channel_id=channel_id, message_id=message_id)
    if status is None:
        raise Forbidden(FORBIDDEN)  # another channel's message answers like a wrong secret
    for name in ("created_at", "pushed_at", "read_at", "acknowledged_at", "expires_at", "at"):
        if name in status:
            status[name] = _iso(status[name])
    return {"message": status}, {}


def _withdraw(request, data, ban):
    """POST /v1/messages/withdraw: the channel takes one of its messages back (idempotent)."""
    ban.refuse()
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
    result, error = sender_call(request, lambda ban: work(request, send_request.decode_body(request), ban),
                                name=work.__name__)
    if error is not None:
        if error is INTERNAL_ERROR:
            return internal_error_response(), 500
        return _send_error(error), error.status
    body, headers = result
    response = JsonAnswer({"response": {"status": 200, **body}})
    for name, value in headers.items():
        response[name] = value
    return response, 200


INTERNAL_ERROR = ApiError()  # sender_call's error for an unexpected exception (an HTTP 500)


def sender_call(request, work, *, name):
    """Runs `work(ban)` for one sender request under the send API's rules; returns (result, None) or (None, error).

    A banned client is refused 4029 before any other error (bans.Check), a 4003 is counted as a failed
    attempt (bans.record_failure), a known exception becomes its ApiError (as_api_error), and anything
    else is logged as `name` and returned as INTERNAL_ERROR (status 500): the caller renders it in its wire format.
    The hook, Gotify and ntfy endpoints (integrations/) answer through this too.
    """
    ban = bans.Check(request)
    try:
        try:
            return work(ban), None
        except ApiError:
            ban.refuse()  # a banned client is answered 4029 before any other error, as if checked first
            raise
    except Forbidden as exc:
        bans.record_failure(request)
        return None, exc
    except ApiError as exc:
        return None, exc
    except Exception as exc:
        mapped = as_api_error(exc)
        if mapped is not None:
            return None, mapped
        logger.exception("%s failed", name)
        return None, INTERNAL_ERROR


send_message = _sender_endpoint(_send, answered=metrics.send_answered)
status_message = _sender_endpoint(_status)
withdraw_message = _sender_endpoint(_withdraw)
