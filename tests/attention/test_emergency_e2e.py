"""Emergency repeats with a real `celery worker -B`: they survive kill -9, and a short expire stops them on time."""

import time

import pytest

from messaging.emergency import message_acknowledge
from messaging.models import Message
from tests.delivery.test_delivery_e2e import WAIT, sender, start_worker  # noqa: F401 (fixtures)
from tests.people import make_person

pytestmark = pytest.mark.slow
RETRY = 2  # seconds; EMERGENCY_MIN_RETRY is lowered for the test
FAST = {"EMERGENCY_REPEAT_INTERVAL": "0.2", "DELIVERY_CLAIM_TIMEOUT": "3"}


@pytest.fixture(autouse=True)
def short_retry(settings):
    settings.EMERGENCY_MIN_RETRY = 1


def shown(fcm, token):
    """The times (the fake's clock) of the pushes the fake accepted for this token, withdraws and dismisses left out."""
    return [p["time"] for p in fcm.script.accepted(token)
            if p["message"]["data"].get("type") not in ("withdraw", "dismiss")]


def wait_for_pushes(fcm, token, count, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while len(shown(fcm, token)) < count:
        assert time.monotonic() < deadline, f"{len(shown(fcm, token))} of {count} pushes"
        time.sleep(0.05)
    return shown(fcm, token)


def test_repeats_survive_kill_9_of_the_worker_none_lost_none_doubled_beyond_one(start_worker, sender, fcm):
    person = make_person(platform="android", push_token="fcm-emergency-kill")
    first = start_worker(**FAST)
    message_id = sender(person, priority=2, retry=RETRY, expire=120)
    before = wait_for_pushes(fcm, "fcm-emergency-kill", 3)  # the push and two repeats
    first.kill()  # SIGKILL to the worker and its beat
    killed_at = time.time()
    time.sleep(2 * RETRY + 1)  # two repeats fall due while no worker runs
    assert len(shown(fcm, "fcm-emergency-kill")) <= len(before) + 1  # one may have been in flight
    second = start_worker(**FAST)
    started_at = time.time()
    after = wait_for_pushes(fcm, "fcm-emergency-kill", len(before) + 3)
    resumed = [t for t in after if t > killed_at]
    # Not lost: the overdue repeat goes out as soon as the new worker runs (its beat's first tick).
    assert resumed[0] - started_at < RETRY + 2, (started_at, resumed)
    # Not a burst: the missed periods are not all sent now; at most one repeat is doubled (the one in flight).
    gaps = [b - a for a, b in zip(resumed, resumed[1:])]
    assert sum(gap < RETRY / 2 for gap in gaps) <= 1, gaps
    assert len([t for t in resumed if t < started_at + RETRY - 0.2]) <= 2, (started_at, resumed)
    message_acknowledge(user=person.user, message_id=message_id)
    acked = len(shown(fcm, "fcm-emergency-kill"))
    time.sleep(2 * RETRY + 1)
    assert len(shown(fcm, "fcm-emergency-kill")) <= acked + 1  # a repeat already in flight, then none
    dismissed = [p for p in fcm.script.accepted("fcm-emergency-kill") if p["message"]["data"].get("type") == "dismiss"]
    assert dismissed and dismissed[0]["message"]["data"]["message_id"] == str(message_id)  # the notification goes
    assert Message.objects.get(pk=message_id).emergency_next_at is None
    second.kill()


def test_an_emergency_with_a_short_expire_stops_on_time(start_worker, sender, fcm):
    person = make_person(platform="android", push_token="fcm-emergency-expire")
    start_worker(**FAST)
    message_id = sender(person, priority=2, retry=RETRY, expire=5)
    message = Message.objects.get(pk=message_id)
    created = message.created_at.timestamp()
    time.sleep(5 + 2 * RETRY)
    pushes = shown(fcm, "fcm-emergency-expire")
    # The push at 0 s, then repeats due at 2 and 4 s; none at 6 s or later (expire is 5 s).
    assert 2 <= len(pushes) <= 3, [round(t - created, 2) for t in pushes]
    assert max(pushes) < created + 5 + 1, [round(t - created, 2) for t in pushes]
    assert Message.objects.get(pk=message_id).emergency_next_at is None
