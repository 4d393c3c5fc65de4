"""Failed-attempt bans of sender clients: 4029 "Too many failed attempts" (docs/send-api.md, "Failed attempts").

A client's 4003 answers are counted in Django's cache (django-ratelimit: Redis, or the process's
memory when embedded); at SEND_AUTH_FAILURE_RATE the client is banned until the window ends. The
ban itself is a SendBan row, so the send's one statement on PostgreSQL checks it in the same round
trip as the write (messaging/services.py); every other sender request reads it first (`Check`).
Without Redis failures go uncounted (the throttle fails open), but existing bans still hold.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from kilopush.cache import redis_usable
from kilopush.errors import Throttled
from kilopush import throttle
from kilopush.net import client_throttle_key, ratelimit_ip_key

from .models import SendBan

logger = logging.getLogger(__name__)

AUTH_FAILURE_GROUP = "send-auth-failure"
MESSAGE = "Too many failed attempts"


def throttled(until):
    """The 4029 answer to a client banned until `until`, with Retry-After in whole seconds (at least 1)."""
    seconds = max(int((until - timezone.now()).total_seconds()), 1)
    return Throttled(MESSAGE, headers={"Retry-After": str(seconds)})


def banned_until(client):
    """When the ban of `client` (a throttle key) ends, or None."""
    return SendBan.objects.filter(client=client, until__gt=timezone.now()).values_list("until", flat=True).first()


class Check:
    """The ban check of one sender request, made once: by its own query (`refuse`), or inside the
    send's statement (`client` is passed in, `seen` is called with the answer)."""

    def __init__(self, request):
        self.client = client_throttle_key(request)
        self.done = False

    def refuse(self):
        """Raises the 4029 if the client is banned (one query, the first time only)."""
        if not self.done:
            self.seen(banned_until(self.client))

    def seen(self, until):
        self.done = True
        if until is not None:
            raise throttled(until)


def record_failure(request):
    """Counts a 4003 against the client; at the limit, bans it until the counting window ends."""
    if settings.REDIS_URL and not redis_usable():
        return  # Redis failed a moment ago: fail open, without waiting on it again
    usage = throttle.usage(request, group=AUTH_FAILURE_GROUP, key=ratelimit_ip_key, rate=settings.SEND_AUTH_FAILURE_RATE)
    if throttle.exhausted(usage):
        ban(client_throttle_key(request), seconds=throttle.retry_after(usage))


def ban(client, *, seconds):
    """Bans `client` for `seconds` from now (a later ban replaces an earlier one); drops expired bans."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    SendBan.objects.bulk_create([SendBan(client=client, until=until, banned_at=now)], update_conflicts=True,
                                unique_fields=["client"], update_fields=["until", "banned_at"])
    SendBan.objects.filter(until__lte=now).delete()
    logger.info("Sender client %s banned for %d s after repeated failed attempts", client, seconds)

