"""A provider down for a while (the stand-in answers 503 or drops every connection): its pushes are retried with
growing delays and delivered once it is back, while the other provider's pushes keep flowing."""

import time

import pytest

from channels_app.services import channel_create, channel_set_verified
from messaging.delivery import retry_delay
from messaging.models import Delivery
from tests.chaos_support import (
    INTERVALS, accepted_counts, control, deliveries_by_key, pick, recipients, report, seen_pushes,
    send_bodies, undelivered, wait_until,
)
from tests.people import make_person

pytestmark = pytest.mark.slow

BASE_DELAY = pick(0.2, 5.0)  # DELIVERY_RETRY_BASE_DELAY: production's 5 s in the long run
OUTAGE = pick(0, 120)  # seconds the provider stays down at least (the short run: until REFUSALS are seen)
REFUSALS = 4  # failed attempts each of its deliveries must have had before it returns
MESSAGES = pick(20, 200)  # per wave; people alternate Android and iOS


@pytest.fixture
def channel(transactional_db):
    channel = channel_create(owner=make_person().user, name="Freezer")
    channel_set_verified(channel=channel, verified=True)
    return channel


@pytest.mark.parametrize("down, outage", [("fcm", "unavailable"), ("apns", "drop")])
def test_a_provider_outage_is_retried_with_backoff_and_does_not_hold_the_other(
    platform, bursts, fcm, apns, channel, down, outage, settings
):
    settings.DELIVERY_RETRY_BASE_DELAY = BASE_DELAY  # so retry_delay() here computes the worker's backoff
    worker = platform.worker(DELIVERY_RETRY_BASE_DELAY=BASE_DELAY)
    web = platform.web()
    stand_in = fcm if down == "fcm" else apns
    people = recipients(pick(10, 40), prefix=f"out-{down}")
    down_people = [p for p in people if (p.user.devices.get().platform == "android") == (down == "fcm")]
    up_people = [p for p in people if p not in down_people]

    control(stand_in, "/_fake/default", {"outcome": outage})
    went_down = time.time()
    first = bursts(web.url, send_bodies(channel, people, MESSAGES, text="first wave")).wait(60)
    assert {a.status for a in first} == {200}
    down_ids = [a.message_id for i, a in enumerate(first) if people[i % len(people)] in down_people]
    up_ids = [a.message_id for a in first if a.message_id not in down_ids]
    wait_until(lambda: undelivered(up_ids) == 0, 30, "the other provider's pushes", [worker])

    def refused_enough():
        attempts = Delivery.objects.filter(message_id__in=down_ids).values_list("attempts", flat=True)
        return min(attempts) >= REFUSALS

    wait_until(refused_enough, 60 + OUTAGE * 2, f"{REFUSALS} failed attempts of each push to it", [worker])
    # Pushes to the working provider keep flowing during the outage: more waves, to it alone, until it ends.
    second = []
    while True:
        wave = bursts(web.url, send_bodies(channel, up_people, len(up_people), text="second wave")).wait(60)
        second += wave
        wait_until(lambda: undelivered([a.message_id for a in wave]) == 0, 30, "a wave during the outage", [worker])
        if time.time() >= went_down + OUTAGE:
            break
        time.sleep(min(10, max(went_down + OUTAGE - time.time(), 0)))
    second_ids = [a.message_id for a in second]
    assert undelivered(down_ids) == len(down_ids)  # the first wave's pushes to it still wait
    states = Delivery.objects.filter(message_id__in=down_ids).values_list("state", "attempts", "next_attempt_at")
    assert all(state in (Delivery.QUEUED, Delivery.SENDING) and attempts >= REFUSALS for state, attempts, _ in states)

    control(stand_in, "/_fake/default", {"outcome": "ok"})
    came_back = time.time()
    # The last refusal asked for retry_delay(attempts); a delay beyond a minute waits for the sweep.
    bound = retry_delay(max(a for _, a, _ in states) + 1) + INTERVALS["DELIVERY_SWEEP_INTERVAL"] + 30
    wait_until(lambda: undelivered(down_ids) == 0, bound, "the down provider's pushes after its return", [worker])

    rows = deliveries_by_key(down_ids + up_ids + second_ids)
    counts = accepted_counts(fcm, apns)
    assert set(counts) == set(rows) and set(counts.values()) == {1}  # each push accepted exactly once
    attempts_seen = {}
    for push in seen_pushes(fcm, apns):
        if push.message_id in down_ids:
            attempts_seen.setdefault((push.token, push.message_id), []).append(push.time)
    for key, times in attempts_seen.items():
        row = rows[key]
        assert row.attempts >= len(times)  # every attempt counted (a dropped stream may not even be seen)
        if down == "fcm":
            assert row.attempts == len(times)
        for n, (earlier, later) in enumerate(zip(times, times[1:]), start=1):
            assert later - earlier >= retry_delay(n) - 0.01, (key, n, times)  # never sooner than the backoff
    delivered_after = max(t[-1] for t in attempts_seen.values()) - came_back
    answered = {a.message_id: a.finished for a in second}
    up_latency = max(p.time - answered[p.message_id] for p in seen_pushes(fcm, apns) if p.message_id in answered)
    attempts = sorted({rows[key].attempts for key in attempts_seen})
    backoff = ", ".join(f"{retry_delay(n):g}" for n in range(1, attempts[-1]))
    report(f"{down} {outage}", f"down {came_back - went_down:.0f}s; {len(down_ids)} pushes to it took "
                               f"{attempts[0]}-{attempts[-1]} attempts (waits {backoff} s), all delivered "
                               f"{delivered_after:.1f}s after its return; the other provider got each of "
                               f"{len(second_ids)} pushes during the outage within {up_latency * 1000:.0f} ms")
