"""Redis (broker and cache, no persistence) restarted or stopped: no accepted message is lost, sends don't hang,
and the daily limit, counted in PostgreSQL, is unchanged."""

import json
import time

import pytest

from channels_app.models import ChannelDailyCount
from channels_app.services import channel_create
from messaging.models import Delivery, Message
from tests.chaos_support import (
    INTERVALS, accepted_counts, deliveries_by_key, pick, recipients, report, seen_pushes,
    send_bodies, undelivered, wait_until,
)
from tests.people import make_person
from tests.procs import http

pytestmark = pytest.mark.slow

DAILY_LIMIT = pick(150, 800)
MESSAGES = pick(200, 1000)  # more than the limit: the rest must be refused with 4029, Redis restart or not
# The promise: a message whose task Redis lost is queued again by the first sweep after DELIVERY_REQUEUE_AFTER,
# i.e. delivered within the sweep interval plus DELIVERY_REQUEUE_AFTER (a minute) of Redis coming back, plus the
# time it takes to push the backlog (PUSH_ALLOWANCE).
PUSH_ALLOWANCE = pick(10, 15)
RECOVERY_BOUND = INTERVALS["DELIVERY_SWEEP_INTERVAL"] + INTERVALS["DELIVERY_REQUEUE_AFTER"] + PUSH_ALLOWANCE


@pytest.fixture
def unverified_channel(transactional_db):
    return channel_create(owner=make_person().user, name="Water leak")


def test_redis_restarts_during_a_burst_lose_no_accepted_message_nor_the_daily_count(
    platform, bursts, fcm, apns, unverified_channel
):
    # Slow stand-ins and small batches keep the worker behind the burst, so each restart strands queued work.
    # (The worker's window hides a provider's latency: 4 in flight at 100 ms is at most 40 pushes/s per process.)
    fcm.script.set_default("ok", latency=0.1)
    apns.script.set_default("ok", latency=0.1)
    people = recipients(pick(20, 50), prefix="redis")
    web = platform.web(CHANNEL_DAILY_LIMIT=DAILY_LIMIT)
    worker = platform.worker(DELIVERY_BATCH_SIZE=4)
    burst = bursts(web.url, send_bodies(unverified_channel, people, MESSAGES), threads=2)
    backs, stranded = [], []

    def restart():
        platform.redis.restart()  # every queued task and every counter kept in Redis is gone
        backs.append(time.time())
        # Queued deliveries nobody holds: their tasks went with Redis.
        stranded.append(Delivery.objects.filter(state=Delivery.QUEUED, next_attempt_at=None).count())

    # Once while messages are being accepted, once just after the daily limit ran out.
    wait_until(lambda: len(burst.accepted()) >= DAILY_LIMIT // 2, 60, "half the daily limit accepted")
    restart()
    wait_until(lambda: burst.statuses()[4029] > 0, 60, "the daily limit reached")
    restart()
    answers = burst.wait(120)

    assert burst.statuses() == {200: DAILY_LIMIT, 4029: MESSAGES - DAILY_LIMIT}
    assert ChannelDailyCount.objects.get(channel=unverified_channel).count == DAILY_LIMIT
    assert stranded[-1] > 0, "the worker kept up: the last restart stranded nothing, so it proved nothing"
    message_ids = [a.message_id for a in burst.accepted()]
    wait_until(lambda: undelivered(message_ids) == 0, RECOVERY_BOUND + 60, "every delivery accepted", [worker])

    rows = deliveries_by_key(message_ids)
    counts = accepted_counts(fcm, apns)
    assert set(counts) == set(rows) and len(rows) == DAILY_LIMIT
    assert set(counts.values()) == {1}
    first_push = {}
    for push in seen_pushes(fcm, apns):
        first_push.setdefault(push.message_id, push.time)
    answered = {a.message_id: a.finished for a in answers if a.status == 200}
    # How long each message waited for its push, from its answer or from Redis coming back, whichever is later.
    waits = {m: first_push[m] - max([answered[m]] + [b for b in backs if b <= first_push[m]]) for m in message_ids}
    report("redis restart", f"{MESSAGES} sends, {DAILY_LIMIT} accepted and counted (limit {DAILY_LIMIT}), "
                            f"deliveries stranded by each restart {stranded}, longest wait for a push after "
                            f"acceptance or Redis's return {max(waits.values()):.1f}s (bound {RECOVERY_BOUND}s)")
    assert max(waits.values()) <= RECOVERY_BOUND


def post_send(web, body, timeout=30):
    started = time.monotonic()
    status, _, answer = http("POST", web.url + "/v1/messages/send", json.dumps(body), timeout=timeout)
    return status, json.loads(answer), time.monotonic() - started


def test_a_send_while_redis_is_down_is_answered_at_once_and_delivered_when_it_returns(
    platform, fcm, apns, unverified_channel
):
    [person] = recipients(1, prefix="down")
    web = platform.web()
    worker = platform.worker()
    body = send_bodies(unverified_channel, [person], 1)[0]
    platform.redis.stop()
    status, answer, elapsed = post_send(web, body)
    assert status == 200, answer
    assert elapsed < 3
    message_id = int(answer["response"]["id"])
    assert Message.objects.filter(id=message_id).exists()
    assert Delivery.objects.get(message_id=message_id).state == Delivery.QUEUED
    platform.redis.start()
    back = time.time()
    wait_until(lambda: undelivered([message_id]) == 0, RECOVERY_BOUND + 30, "the delivery accepted", [worker])
    [push] = [p for p in seen_pushes(fcm, apns) if p.message_id == message_id]
    report("redis down", f"send answered 200 in {elapsed * 1000:.0f} ms with Redis stopped; "
                         f"pushed {push.time - back:.1f}s after Redis came back")
