"""The publish points: after commit, each change wakes the recipient's streams over Redis pub/sub."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from messaging import queueing, wake
from messaging.queueing import NUDGE_PENDING_KEY
from tests.people import make_person

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wakeups():
    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wake.channel_name())

    def _received(count=1, timeout=5):
        got, deadline = [], time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message:
                got.append(message["data"].decode())
        return got

    yield _received
    pubsub.close()
    client.close()


def test_a_send_to_a_person_with_a_phone_wakes_their_streams_and_nudges_a_worker(send, valid_fields, bob, wakeups):
    assert send(valid_fields).status_code == 200
    assert wakeups() == [f"m{bob.user.pk}"]
    assert cache.get(NUDGE_PENDING_KEY) is not None  # the coalesced nudge, in the same pipeline


def test_a_send_to_a_person_without_devices_wakes_their_streams(send, channel, wakeups):
    person = make_person(platform="web", push_token="")
    fields = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": "hi"}
    assert send(fields).status_code == 200
    assert wakeups() == [f"m{person.user.pk}"]
    assert cache.get(NUDGE_PENDING_KEY) is None


def test_a_refused_send_wakes_nobody(send, valid_fields, wakeups):
    assert send({**valid_fields, "secret": "0" * 64}).status_code == 400
    assert wakeups(timeout=0.5) == []


def test_read_delete_and_account_deletion_wake_the_streams(client, send, valid_fields, bob, wakeups):
    message_id = int(send(valid_fields).json()["response"]["id"])
    assert wakeups() == [f"m{bob.user.pk}"]
    client.post(f"/v1/app/messages/{message_id}/read", **bob.auth)
    client.post("/v1/app/messages/read", json.dumps({"up_to": message_id}), content_type="application/json", **bob.auth)
    client.delete(f"/v1/app/messages/{message_id}", **bob.auth)
    client.delete("/v1/app/me", **bob.auth)
    # The second read changed nothing: no event, no wake-up.
    assert wakeups(3) == [f"e{bob.user.pk}", f"e{bob.user.pk}", f"a{bob.user.pk}"]


def test_inbox_events_are_pruned_after_an_hour(bob):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.models import InboxEvent
    from messaging.tasks import prune_inbox_events

    now = timezone.now()
    old = InboxEvent.objects.create(user=bob.user, kind=InboxEvent.READ, data="{}", created_at=now - timedelta(hours=2))
    recent = InboxEvent.objects.create(user=bob.user, kind=InboxEvent.READ, data="{}", created_at=now)
    assert prune_inbox_events() == 1
    assert list(InboxEvent.objects.values_list("id", flat=True)) == [recent.id]
    assert old.id != recent.id


def test_sends_committing_while_a_nudge_is_in_flight_share_its_next_round_trip(wakeups, monkeypatch):
    """Group commit (messaging.queueing._NudgeBatch) with no linger (the suite's default, tests/conftest.py): the
    first send flushes; sends of other threads that commit meanwhile return at once, and the flushing thread
    takes them all in one more pipeline."""
    from tests.delivery_fixtures import queued_tasks

    flushed, in_flight, release = [], threading.Event(), threading.Event()
    real_flush = queueing._flush

    def held_flush(batch):
        flushed.append([recipient for _, recipient in batch])
        if len(flushed) == 1:
            in_flight.set()
            assert release.wait(10)
        real_flush(batch)

    monkeypatch.setattr(queueing, "_flush", held_flush)
    first = threading.Thread(target=queueing.nudge_coalesced, args=(1,), kwargs={"recipient_id": 101})
    first.start()
    assert in_flight.wait(10)
    others = [threading.Thread(target=queueing.nudge_coalesced, args=(i,), kwargs={"recipient_id": 100 + i})
              for i in range(2, 6)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(5)
        assert not thread.is_alive()  # returned while the first flush was still waiting on Redis
    release.set()
    first.join(10)
    assert flushed == [[101], [102, 103, 104, 105]]
    assert sorted(wakeups(5)) == [f"m{100 + i}" for i in range(1, 6)]
    assert len(queued_tasks()) == 1  # the first flush queued the task; the second found it waiting


@pytest.fixture
def recorded_flushes(monkeypatch):
    """messaging.queueing._flush, recording each batch's recipients, the thread and the time it was sent at."""
    flushed, real_flush = [], queueing._flush

    def recording_flush(batch):
        flushed.append(([recipient for _, recipient in batch], threading.current_thread().name, time.monotonic()))
        real_flush(batch)

    monkeypatch.setattr(queueing, "_flush", recording_flush)
    queueing._batch.forget()  # no earlier test's last round trip or lingering thread
    yield flushed
    queueing._batch.flush()


def test_under_load_nudges_wait_for_the_linger_and_share_one_round_trip(recorded_flushes, wakeups, settings):
    """Sends that commit less than DELIVERY_NUDGE_LINGER_MS after a round trip began answer without one; the
    lingering thread sends their nudges together once the linger is up (one round trip per linger under load)."""
    settings.DELIVERY_NUDGE_LINGER_MS = 300
    queueing.nudge_coalesced(1, recipient_id=301)
    assert [batch for batch, _, _ in recorded_flushes] == [[301]]  # a lone send: before it answers
    assert recorded_flushes[0][1] == threading.current_thread().name
    queueing.nudge_coalesced(2, recipient_id=302)
    queueing.nudge_coalesced(3, recipient_id=303)
    assert len(recorded_flushes) == 1  # both answered without a round trip
    assert sorted(wakeups(3)) == ["m301", "m302", "m303"]
    assert [batch for batch, _, _ in recorded_flushes] == [[301], [302, 303]]
    _, thread, sent_at = recorded_flushes[1]
    assert thread == "nudge-linger"
    assert sent_at - recorded_flushes[0][2] >= 0.29  # not before the linger was up


def test_a_send_after_the_linger_nudges_before_it_answers(recorded_flushes, settings):
    settings.DELIVERY_NUDGE_LINGER_MS = 50
    queueing.nudge_coalesced(1, recipient_id=311)
    time.sleep(0.1)
    queueing.nudge_coalesced(2, recipient_id=312)
    assert [batch for batch, _, _ in recorded_flushes] == [[311], [312]]
    assert recorded_flushes[1][1] == recorded_flushes[0][1]  # the caller's own thread, both times


def test_a_process_that_exits_sends_the_nudges_its_linger_holds(wakeups):
    """atexit: a web process stopping (a deploy, gunicorn's max_requests) does not leave its last nudges to the sweep."""
    script = (
        "import django; django.setup()\n"
        "from messaging import queueing\n"
        "queueing.nudge_coalesced(1, recipient_id=321)\n"
        "queueing.nudge_coalesced(2, recipient_id=322)\n"  # within the minute's linger: held, then the process ends
        "assert queueing._batch._pending\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kilopush.settings", "DELIVERY_NUDGE_LINGER_MS": "60000",
           "REDIS_URL": settings.REDIS_URL}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60,
                   cwd=settings.BASE_DIR)
    assert sorted(wakeups(2)) == ["m321", "m322"]
    assert time.monotonic() - started < 50  # sent at exit, not when the linger was up


def test_a_lingering_thread_that_is_gone_is_started_again(recorded_flushes, wakeups, settings):
    settings.DELIVERY_NUDGE_LINGER_MS = 100
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    queueing._batch._lingering = gone
    queueing.nudge_coalesced(1, recipient_id=331)
    queueing.nudge_coalesced(2, recipient_id=332)  # within the linger: for the lingering thread
    assert sorted(wakeups(2)) == ["m331", "m332"]
    assert recorded_flushes[1][1] == "nudge-linger"


def test_a_wake_up_without_a_push_shares_the_nudges_round_trip(recorded_flushes, wakeups, settings):
    """A message with nothing to push (its recipient has no device) wakes the streams in the same lingering round
    trip as the nudges, not in one of its own."""
    settings.DELIVERY_NUDGE_LINGER_MS = 300
    queueing.nudge_coalesced(1, recipient_id=341)
    queueing.nudge_coalesced(None, recipient_id=342)
    queueing.nudge_coalesced(3, recipient_id=343)
    assert len(recorded_flushes) == 1  # both answered without a round trip
    assert sorted(wakeups(3)) == ["m341", "m342", "m343"]
    assert [batch for batch, _, _ in recorded_flushes] == [[341], [342, 343]]
    assert recorded_flushes[1][1] == "nudge-linger"


def test_wake_ups_alone_queue_no_task_and_a_mixed_batch_flags_its_message(wakeups):
    from tests.delivery_fixtures import queued_tasks

    queueing._flush([(None, 351), (None, 352)])
    assert sorted(wakeups(2)) == ["m351", "m352"]
    assert cache.get(NUDGE_PENDING_KEY) is None
    assert queued_tasks() == []
    queueing._flush([(None, 353), (7, 354)])
    assert sorted(wakeups(2)) == ["m353", "m354"]
    assert cache.get(NUDGE_PENDING_KEY) == 7
    assert len(queued_tasks()) == 1
