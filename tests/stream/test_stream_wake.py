"""The publish points: after commit, each change wakes the recipient's streams over Redis pub/sub."""

import json
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from messaging.queueing import NUDGE_PENDING_KEY
from messaging import wake
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
    """Group commit (messaging.queueing._NudgeBatch): the first send flushes; sends of other threads
    that commit meanwhile return at once, and the flushing thread takes them all in one more pipeline."""
    import threading

    from messaging import queueing
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
