"""The one door to django-ratelimit: every rate is counted by `usage`, which fails open.

Rates are counted in Django's cache (Redis, or the process's memory when embedded). When the cache cannot
count (Redis unreachable), the request goes through uncounted and a warning is logged: a rate limit never
turns a Redis outage into refused requests. Callers: the app API's throttles per client address and per
account (`throttle_by_client_ip`, `throttle_by_account`), the reports' throttle, the send API's
failed-attempt bans (messaging/bans.py) and the admin login's (kilopush/admin_login.py).
"""

import logging

from django_ratelimit.core import get_usage

from kilopush.errors import Throttled
from kilopush.net import ratelimit_ip_key

logger = logging.getLogger(__name__)


def usage(request, *, group, key, rate, increment=True):
    """django-ratelimit's usage of `rate` in `group` by `key` (a key function (group, request), as
    django-ratelimit takes), counting this request if `increment`; None if the cache could not count it."""
    try:
        return get_usage(request, group=group, key=key, rate=rate, increment=increment)
    except Exception:
        logger.warning("Rate-limit cache unreachable; %s not counted", group, exc_info=True)
        return None


def exhausted(counted):
    """True when a usage has reached its limit (this request included); False when it is None (not counted)."""
    return counted is not None and counted["count"] >= counted["limit"] > 0


def retry_after(counted):
    """The usage's window's time left in whole seconds, at least 1 (a Retry-After)."""
    return max(counted["time_left"], 1)


def throttle(request, *, group, key, rate):
    """Counts this request; raises 4029 with Retry-After once `rate` is used up. Fails open."""
    counted = usage(request, group=group, key=key, rate=rate)
    if counted and counted["should_limit"]:
        raise Throttled(headers={"Retry-After": str(retry_after(counted))})


def account_key(group, request):
    return request.user.token


def throttle_by_client_ip(request, *, group, rate):
    """`throttle` per client address (kilopush.net: the address behind trusted proxies, an IPv6 /64)."""
    throttle(request, group=group, key=ratelimit_ip_key, rate=rate)


def throttle_by_account(request, *, group, rate):
    """`throttle` per app account (request.user, an authenticated app user)."""
    throttle(request, group=group, key=account_key, rate=rate)
