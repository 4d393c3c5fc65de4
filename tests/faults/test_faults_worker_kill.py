"""kill -9 of the Celery worker, several times during a burst: nothing is lost, and only what was in flight at a
kill may be pushed twice (with the same collapse id, so the phone still shows one notification)."""

import time

import pytest
from django.conf import settings
from django.utils import timezone

from channels_app.services import channel_create, channel_set_verified
from messaging.models import Delivery
from tests.chaos_support import (
    INTERVALS, accepted_counts, pick, recipients, report, seen_pushes, send_bodies, undelivered,
    wait_until,
)
from tests.people import make_person

pytestmark = pytest.mark.slow

MESSAGES = pick(1000, 5000)
KILLS = pick(3, 8)
CONCURRENCY = 1  # worker processes: at most one batch in flight per process at a kill
# A claim this old belonged to a killed worker. Production's 300 s would only lengthen the wait of the long run.
CLAIM_TIMEOUT = pick(INTERVALS["DELIVERY_CLAIM_TIMEOUT"], 30)


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
    step = MESSAGES // (KILLS + 1)
    for _ in range(KILLS):
        target = len(seen_pushes(fcm, apns)) + step
        wait_until(lambda: len(seen_pushes(fcm, apns)) >= target, 120, f"{target} pushes", [worker])
        worker.kill()  # SIGKILL to the whole worker: main process, pool child, embedded beat
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
    counts = accepted_counts(fcm, apns)
    assert len(rows) == MESSAGES
    assert set(counts) == set(rows)  # every delivery reached its device, and nothing else did
    twice = {key: n for key, n in counts.items() if n > 1}
    per_kill = [len({rows[key].id for key in twice} & ids) for ids in in_flight]
    report("worker kill", f"{MESSAGES} messages, {KILLS} kills, in flight at each kill {[len(i) for i in in_flight]}, "
                          f"pushed twice per kill {per_kill} (total {sum(twice.values()) - len(twice)}), "
                          f"sent in {sent:.1f}s, all delivered in {elapsed:.1f}s")

    assert max(twice.values(), default=1) == 2
    assert {rows[key].id for key in twice} <= set().union(*in_flight)  # only pushes in flight at a kill
    assert max(len(ids) for ids in in_flight) <= CONCURRENCY * settings.DELIVERY_BATCH_SIZE
    for key in twice:
        assert rows[key].attempts >= 2
    for push in seen_pushes(fcm, apns):
        if (push.token, push.message_id) in twice:
            assert push.collapse_id == str(push.message_id)  # so the phone shows one notification
