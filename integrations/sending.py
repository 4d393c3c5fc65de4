"""The one way the integrations send: a SendRequest built from their wire format, through the send API's machinery."""

import re
import time
from dataclasses import dataclass

from django.utils import timezone

from kilopush import metrics
from kilopush.errors import ApiError
from messaging.send.views import INTERNAL_ERROR, sender_call
from messaging.send.request import MAX_TEXT, MAX_TITLE, SendRequest
from messaging.send.service import message_send

ELLIPSIS = "…"
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


@dataclass(frozen=True)
class Sent:
    """A send's outcome: the message id, the request sent and the answer's headers; or the error (an ApiError)."""

    message_id: int | None = None
    request: SendRequest | None = None
    headers: dict | None = None
    error: ApiError | None = None

    @property
    def internal(self):
        return self.error is INTERNAL_ERROR


def send(request, build, *, name):
    """Sends the SendRequest `build()` returns under the send API's rules: the ban check first, a 4003 counted
    as a failed attempt, the send metrics (by envelope status only: no key, no path), never an exception."""
    started = time.perf_counter()

    def work(ban):
        send_request = build()
        message_id, headers = message_send(request=send_request, ban=ban)
        return Sent(message_id=message_id, request=send_request, headers=headers)

    sent, error = sender_call(request, work, name=name)
    metrics.send_answered(error.status if error is not None else 200, time.perf_counter() - started)
    return sent if error is None else Sent(error=error)


def shorten_text(value, limit=MAX_TEXT):
    """A text over `limit` characters cut to exactly `limit`, ending in "…"; anything else as it is."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + ELLIPSIS
    return value


def shorten_title(value):
    """A title made one line (line breaks become spaces) and shortened to MAX_TITLE; anything else as it is."""
    if isinstance(value, str):
        value = shorten_text(_LINE_BREAKS.sub(" ", value).strip(), MAX_TITLE)
    return value


def retry_headers(error):
    """The error's headers, with a Retry-After for a 4029 that has only X-RateLimit-Reset (the daily limit)."""
    headers = dict(error.headers)
    if error.status == 4029 and "Retry-After" not in headers and "X-RateLimit-Reset" in headers:
        seconds = int(headers["X-RateLimit-Reset"]) - int(timezone.now().timestamp())
        headers["Retry-After"] = str(max(seconds, 1))
    return headers


def unlogged(response):
    """Django logs each 4xx/5xx answer with its path ("Unauthorized: /k_…"); a key in the path must not be."""
    response._has_been_logged = True
    return response
