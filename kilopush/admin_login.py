"""The admin's login page, throttled (issue 16, item 9).

Failed staff logins are counted per client address and per username (django-ratelimit,
in the cache); past either limit every login attempt, with the right password too, is
answered 429 until the window ends. Each failure is logged.
"""

import logging

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.utils.html import escape

from kilopush import throttle
from kilopush.net import ratelimit_ip_key

logger = logging.getLogger("kilopush.admin")

ADDRESS_GROUP = "admin-login-failure-address"
USERNAME_GROUP = "admin-login-failure-username"


def _username_key(group, request):
    return "user:" + (request.POST.get("username") or "").strip().lower()[:150]


def _usages(request, *, increment):
    """(address usage, username usage); None for one the cache could not count (fails open)."""
    limits = [
        (ADDRESS_GROUP, ratelimit_ip_key, settings.ADMIN_LOGIN_FAILURE_RATE_PER_ADDRESS),
        (USERNAME_GROUP, _username_key, settings.ADMIN_LOGIN_FAILURE_RATE_PER_USERNAME),
    ]
    return [throttle.usage(request, group=group, key=key, rate=rate, increment=increment)
            for group, key, rate in limits]


def _exhausted(usage):
    return usage is not None and usage["count"] >= usage["limit"] > 0


def _too_many(usages):
    wait = max(max(usage["time_left"], 1) for usage in usages if _exhausted(usage))
    response = HttpResponse(
        "<!doctype html><title>Too many failed logins</title><h1>Too many failed logins</h1>"
        f"<p>Try again in {escape(str(wait))} seconds.</p>",
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def admin_login(request, extra_context=None):
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    usages = _usages(request, increment=False)
    if any(_exhausted(usage) for usage in usages):
        logger.warning("Throttled staff login for %r from %s", _username_key(None, request)[5:],
                       ratelimit_ip_key(None, request))
        return _too_many(usages)
    response = admin.site.login(request, extra_context)
    # A good login redirects; a refused one renders the form again (a CSRF failure is a 403 and not a try).
    if response.status_code == 200 and not request.user.is_authenticated:
        logger.warning("Failed staff login for %r from %s", _username_key(None, request)[5:],
                       ratelimit_ip_key(None, request))
        _usages(request, increment=True)
    return response
