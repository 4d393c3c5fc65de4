"""kill -9 of the Celery worker: nothing is lost, a dead worker's claimed deliveries are pushed again within
30 s, and only the pushes in flight at a kill are repeated (with the same collapse id, so the phone still shows
one notification).

A live worker renews its batch's claim every DELIVERY_CLAIM_TIMEOUT / 3 and records each answer as it arrives
(messaging/delivery.py push()); the sweep re-queues a claim that was not renewed for DELIVERY_CLAIM_TIMEOUT.
"""

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone

from channels_app.services import channel_create, channel_set_verified
from messaging.models import Delivery
from tests.chaos_support import (
    INTERVALS, accepted_counts, pick, recipients, report, repush_delays, seen_pushes, send_bodies, undelivered,
    wait_until,
)
from tests.people import make_person

pytestmark = pytest.mark.slow

MESSAGES = pick(1000, 5000)
KILLS = pick(3, 8)
CONCURRENCY = 1  # worker processes: at most one batch in flight per process at a kill
CLAIM_TIMEOUT = INTERVALS["DELIVERY_CLAIM_TIMEOUT"]  # make chaos: production's
REPUSH_TARGET = 30.0  # seconds from a worker's death to the next push of what it held
REPEATS_TARGET = 10  # pushes repeated per kill


@pytest.fixture
def verified_channel(transactional_db):
    channel = channel_create(owner=make_person().user, name="Smoke alarm")
    channel_set_verified(channel=channel, verified=True)  # 1,000 messages: beyond any daily limit
    return channel


def test_killed_workers_lose_nothing_and_repeat_only_pushes_in_flight(platform, bursts, fcm, apns, verified_channel):
    # A little latency makes every batch take a while, so a kill lands among pushes in flight.
    fcm.script.set_default("ok", latency=0.01)
    apns.script.set_default("ok", latency=0.01)
    people = recipients(pick(20, 50), prefix="kill")
    web = platform.web()
    # Only kills may repeat a push here: on a loaded machine a stand-in's answer can come after the
    # fakes' 1 s timeouts, and that push would be retried (and counted twice) without any kill.
    env = {"DELIVERY_CLAIM_TIMEOUT": CLAIM_TIMEOUT, "FCM_TIMEOUT": 10, "APNS_TIMEOUT": 10}
    worker_since = timezone.now()
    worker = platform.worker(**env)
    started = time.monotonic()
    burst = bursts(web.url, send_bodies(verified_channel, people, MESSAGES))

    in_flight = []  # per kill: the deliveries its worker had claimed and not recorded
    killed_at = []  # per kill: time.time()
    step = MESSAGES // (KILLS + 1)
    for _ in range(KILLS):
        target = len(seen_pushes(fcm, apns)) + step
        wait_until(lambda: len(seen_pushes(fcm, apns)) >= target, 120, f"{target} pushes", [worker])
        worker.kill()  # SIGKILL to the whole worker: main process, pool child, embedded beat
        killed_at.append(time.time())
        claimed = Delivery.objects.filter(state=Delivery.SENDING, claimed_at__gte=worker_since)
        in_flight.append(set(claimed.values_list("id", flat=True)))
        worker_since = timezone.now()
        worker = platform.worker(**env)

    answers = burst.wait(120)
    sent = time.monotonic() - started
    assert burst.statuses() == {200: MESSAGES}
    message_ids = [a.message_id for a in answers]
    wait_until(lambda: undelivered(message_ids) == 0, CLAIM_TIMEOUT + 120, "every delivery accepted", [worker])
    elapsed = time.monotonic() - started

    rows = {(row.device.push_token, row.message_id): row
            for row in Delivery.objects.filter(message_id__in=message_ids).select_related("device")}
    key_of = {row.id: key for key, row in rows.items()}
    counts = accepted_counts(fcm, apns)
    assert len(rows) == MESSAGES
    assert set(counts) == set(rows)  # every delivery reached its device, and nothing else did
    twice = {key: n for key, n in counts.items() if n > 1}
    per_kill = [len({rows[key].id for key in twice} & ids) for ids in in_flight]
    pushes = seen_pushes(fcm, apns)
    delays = [max(repush_delays(pushes, {key_of[i] for i in ids}, at).values(), default=0.0)
              for ids, at in zip(in_flight, killed_at)]
    report("worker kill", f"{MESSAGES} messages, {KILLS} kills, in flight at each kill {[len(i) for i in in_flight]}, "
                          f"pushed twice per kill {per_kill} (total {sum(twice.values()) - len(twice)}; target <= "
                          f"{REPEATS_TARGET}), re-pushed within {[round(d, 1) for d in delays]} s of each kill "
                          f"(target {REPUSH_TARGET:.0f} s; worker restarted at once), sent in {sent:.1f}s, "
                          f"all delivered in {elapsed:.1f}s")

    assert max(twice.values(), default=1) == 2
    assert {rows[key].id for key in twice} <= set().union(*in_flight)  # only pushes in flight at a kill
    assert max(len(ids) for ids in in_flight) <= CONCURRENCY * settings.DELIVERY_BATCH_SIZE
    assert max(delays) <= REPUSH_TARGET
    for key in twice:
        assert rows[key].attempts >= 2
    for push in pushes:
        if (push.token, push.message_id) in twice:
            assert push.collapse_id == str(push.message_id)  # so the phone shows one notification


# --- one kill in the middle of a slow batch --------------------------------------------------------------

SLOW_MESSAGES = 60
SLOW_LATENCY = 0.1  # the stand-in answers each push after this
SLOW_CONCURRENCY = 2  # pushes the worker keeps in flight at FCM (FCM_CONCURRENCY): 20 pushes/s, a batch ~3 s
# Test-sized: the claim is renewed every second, a dead worker's expires after 3 s, the sweep runs every second.
# make chaos: production's (renewed every 5 s, expires after 15 s, a sweep every 10 s).
SLOW_INTERVALS = pick({"DELIVERY_CLAIM_TIMEOUT": 3, "DELIVERY_SWEEP_INTERVAL": 1, "DELIVERY_REQUEUE_AFTER": 2},
                      INTERVALS)


def test_a_worker_killed_mid_batch_repeats_only_its_pushes_in_flight(platform, bursts, fcm, apns, verified_channel):
    fcm.script.set_default("ok", latency=SLOW_LATENCY)
    people = [make_person(platform="android", push_token=f"fcm-slow-kill-{i}") for i in range(10)]
    web = platform.web()
    burst = bursts(web.url, send_bodies(verified_channel, people, SLOW_MESSAGES))
    answers = burst.wait(120)
    assert burst.statuses() == {200: SLOW_MESSAGES}
    message_ids = [a.message_id for a in answers]
    env = {**SLOW_INTERVALS, "FCM_CONCURRENCY": SLOW_CONCURRENCY, "FCM_TIMEOUT": 10}

    # Every send is committed: the worker's first task claims them all in one batch. Its own beat sweeps
    # meanwhile, and must leave the batch alone though it takes longer than the claim timeout.
    worker = platform.worker(**env)
    wait_until(lambda: len(seen_pushes(fcm, apns)) >= SLOW_MESSAGES // 2, 60, "half the batch pushed", [worker])
    worker.kill()
    killed_at = time.time()
    held = set(Delivery.objects.filter(message_id__in=message_ids, state=Delivery.SENDING).values_list("id", flat=True))
    assert held, "the kill missed the batch"
    survivor = platform.worker(**env)
    wait_until(lambda: undelivered(message_ids) == 0, 90, "every delivery accepted", [survivor])

    rows = {(row.device.push_token, row.message_id): row
            for row in Delivery.objects.filter(message_id__in=message_ids).select_related("device")}
    counts = accepted_counts(fcm, apns)
    assert set(counts) == set(rows) and len(rows) == SLOW_MESSAGES  # every accepted message was pushed
    repeats = sum(n - 1 for n in counts.values())
    held_keys = {key for key, row in rows.items() if row.id in held}
    delay = max(repush_delays(seen_pushes(fcm, apns), held_keys, killed_at).values())
    report("worker kill mid-batch", f"{SLOW_MESSAGES} messages in one batch at {1 / SLOW_LATENCY * SLOW_CONCURRENCY:.0f}"
                                    f" pushes/s, {len(held)} held at the kill, {repeats} pushed twice, re-pushed "
                                    f"within {delay:.1f}s of the kill (intervals {SLOW_INTERVALS}, a worker started after the kill)")
    assert repeats <= REPEATS_TARGET
    assert delay <= REPUSH_TARGET


def test_production_defaults_push_a_dead_workers_deliveries_again_within_30_s(tmp_path):
    # A claim is renewed every third of DELIVERY_CLAIM_TIMEOUT, so a dead worker's last renewal is at most that
    # old; the sweep that re-queues it runs every DELIVERY_SWEEP_INTERVAL.
    code = ("import django, os; django.setup(); from django.conf import settings as s; "
            "print(s.DELIVERY_CLAIM_TIMEOUT + s.DELIVERY_SWEEP_INTERVAL)")
    env = {"DJANGO_SETTINGS_MODULE": "kilopush.settings", "PATH": "/usr/bin:/bin", "KILOPUSH_VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=settings.BASE_DIR)
    assert float(out.stdout.strip().splitlines()[-1]) < REPUSH_TARGET
