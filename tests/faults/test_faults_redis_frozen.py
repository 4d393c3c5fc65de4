"""A frozen Redis (SIGSTOP: connections accepted, nothing answered): sends are answered quickly and accepted,
the send path stops waiting on Redis after one failure (circuit breaker), and the sweep delivers once Redis
thaws. Before the breaker and the 250 ms timeouts a send waited up to about 16 s."""

import json
import os
import signal
import time

import pytest

from channels_app.services import channel_create
from kilopush.cache import CircuitBreaker
from tests.chaos_support import INTERVALS, pick, recipients, report, send_bodies, undelivered, wait_until
from tests.people import make_person
from tests.procs import http

pytestmark = pytest.mark.slow

SENDS = pick(40, 400)
# Functional bound, not a benchmark: far under the 16 s a send could wait before; the p99 is reported.
SEND_BOUND = 5.0
RECOVERY_BOUND = INTERVALS["DELIVERY_SWEEP_INTERVAL"] + INTERVALS["DELIVERY_REQUEUE_AFTER"] + 30


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def test_sends_are_accepted_quickly_while_redis_is_frozen_and_delivered_after(platform, fcm, apns):
    channel = channel_create(owner=make_person().user, name="Frozen")
    people = recipients(4, prefix="frozen")
    web = platform.web(WEB_CONCURRENCY=2)
    worker = platform.worker()
    bodies = send_bodies(channel, people, SENDS + 1)
    status, _, answer = http("POST", web.url + "/v1/messages/send", json.dumps(bodies[0]))
    assert status == 200, answer  # warm: the web processes hold their Redis connections
    first = int(json.loads(answer)["response"]["id"])
    wait_until(lambda: undelivered([first]) == 0, 30, "the first delivery", [worker])

    redis_pid = platform.redis.proc.proc.pid
    os.kill(redis_pid, signal.SIGSTOP)
    durations, message_ids = [], []
    try:
        for body in bodies[1:]:
            started = time.monotonic()
            status, _, answer = http("POST", web.url + "/v1/messages/send", json.dumps(body), timeout=30)
            durations.append(time.monotonic() - started)
            assert status == 200, answer
            message_ids.append(int(json.loads(answer)["response"]["id"]))
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    thawed = time.monotonic()
    wait_until(lambda: undelivered(message_ids) == 0, RECOVERY_BOUND, "every delivery after the thaw",
               [worker, web])
    p99, longest = percentile(durations, 0.99), max(durations)
    report("redis frozen", f"{SENDS} sends with Redis stopped (SIGSTOP): all accepted, p50 "
                           f"{percentile(durations, 0.5) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, longest "
                           f"{longest * 1000:.0f} ms; all delivered {time.monotonic() - thawed:.1f}s after the thaw")
    assert longest < SEND_BOUND, f"a send waited {longest:.1f}s on a frozen Redis"


def test_the_breaker_opens_on_a_failure_and_closes_after_its_time(settings):
    settings.REDIS_BREAKER_SECONDS = 0.2
    breaker = CircuitBreaker()
    assert breaker.closed()
    breaker.trip(TimeoutError())
    assert not breaker.closed()
    time.sleep(0.25)
    assert breaker.closed()


def test_a_cache_call_on_a_frozen_redis_gives_up_within_the_timeout_then_is_skipped(tmp_path, settings):
    """The same cache backend the send path uses, against a private Redis that is then frozen."""
    from kilopush.cache import RedisCache as BreakerCache, RedisSkipped, redis_breaker
    from tests.procs import RedisServer

    server = RedisServer(tmp_path)
    cache = BreakerCache(server.url, {"OPTIONS": {"socket_timeout": settings.REDIS_TIMEOUT,
                                                  "socket_connect_timeout": settings.REDIS_TIMEOUT}})
    redis_breaker.reset()
    try:
        cache.set("k", 1)
        os.kill(server.proc.proc.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(Exception):
            cache.get("k")
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(RedisSkipped):
            cache.get("k")
        second = time.monotonic() - started
    finally:
        os.kill(server.proc.proc.pid, signal.SIGCONT)
        server.stop()
        redis_breaker.reset()
    assert first < 1.0, f"the first call waited {first:.2f}s"  # REDIS_TIMEOUT is 0.25 s; the old 1 s socket timeout
    assert second < 0.05  # skipped without touching the socket
