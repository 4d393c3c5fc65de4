"""kilopush/throttle.py: the one door to django-ratelimit, used by every rate limit, fails open."""

import logging

import pytest
from django.test import RequestFactory, override_settings

from kilopush import throttle
from kilopush.errors import Throttled
from kilopush.net import ratelimit_ip_key

UNREACHABLE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def request():
    return RequestFactory().post("/v1/app/register", REMOTE_ADDR="203.0.113.7")


def test_it_counts_and_throttles_with_retry_after():
    throttle.throttle_by_client_ip(request(), group="test-throttle", rate="2/m")
    throttle.throttle_by_client_ip(request(), group="test-throttle", rate="2/m")
    with pytest.raises(Throttled) as refused:
        throttle.throttle_by_client_ip(request(), group="test-throttle", rate="2/m")
    assert refused.value.status == 4029 and 1 <= int(refused.value.headers["Retry-After"]) <= 60


def test_usage_counts_without_incrementing_when_asked():
    for _ in range(3):
        counted = throttle.usage(request(), group="test-peek", key=ratelimit_ip_key, rate="3/m", increment=False)
    assert counted["count"] == 0 and not throttle.exhausted(counted)
    for _ in range(3):
        counted = throttle.usage(request(), group="test-peek", key=ratelimit_ip_key, rate="3/m")
    assert throttle.exhausted(counted)


def test_it_fails_open_when_redis_is_unreachable(caplog):
    with override_settings(CACHES=UNREACHABLE), caplog.at_level(logging.WARNING, logger="kilopush.throttle"):
        for _ in range(3):
            throttle.throttle_by_client_ip(request(), group="test-open", rate="1/m")  # never raises
        counted = throttle.usage(request(), group="test-open", key=ratelimit_ip_key, rate="1/m")
    assert counted is None and not throttle.exhausted(counted)
    assert "Rate-limit cache unreachable; test-open not counted" in caplog.text
