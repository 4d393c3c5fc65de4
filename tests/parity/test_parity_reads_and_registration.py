"""The other vendor switches on both backends: the stream's one read (`= ANY(array)` on PostgreSQL, an IN list
elsewhere: stream_app/selectors.py) and a push token taken by two accounts at once (an advisory lock on
PostgreSQL, SQLite's one writer: users_app/push_tokens.py)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from kilopush import crypto
from messaging.models import InboxEvent, Message
from stream_app.selectors import changes_since
from tests.people import make_person
from users_app.models import AccessToken, AppUser, Device
from users_app.services import device_register

pytestmark = pytest.mark.django_db


def test_the_streams_read_answers_each_users_messages_and_events_above_the_floors(channel):
    ann, ben, cid = (make_person() for _ in range(3))
    first = Message.objects.create(recipient=ann.user, channel=channel, text="1")
    second = Message.objects.create(recipient=ben.user, channel=channel, text="2")
    third = Message.objects.create(recipient=cid.user, channel=channel, text="3")  # not asked for
    fourth = Message.objects.create(recipient=ann.user, channel=channel, text="4")
    now = timezone.now()
    read = InboxEvent.objects.create(user_id=ann.user.pk, kind=InboxEvent.READ, data='{"ids":[1]}', created_at=now)
    InboxEvent.objects.create(user_id=cid.user.pk, kind=InboxEvent.READ, data='{"ids":[3]}', created_at=now)
    messages, events, maxima, digests = changes_since(user_ids={ann.user.pk, ben.user.pk}, message_floor=first.pk)
    assert messages == [(second.pk, ben.user.pk), (fourth.pk, ann.user.pk)]
    assert events == [(read.pk, ann.user.pk, InboxEvent.READ, '{"ids":[1]}')]
    assert maxima == (fourth.pk, InboxEvent.objects.order_by("-id").first().pk)
    assert digests is None
    assert third.pk not in [m for m, _ in messages]


def test_the_streams_read_answers_the_access_tokens_of_accounts_not_blocked():
    ann, ben = make_person(), make_person()
    AppUser.objects.filter(pk=ben.user.pk).update(is_blocked=True)
    _, _, _, digests = changes_since(user_ids=set(), account_ids={ann.user.pk, ben.user.pk})
    assert digests == {ann.user.pk: {crypto.digest(ann.access_token)}}
    assert set(AccessToken.objects.filter(user=ann.user).values_list("digest", flat=True)) == digests[ann.user.pk]


def test_the_streams_read_of_many_users_at_once(channel):
    people = [make_person() for _ in range(40)]
    sent = [Message.objects.create(recipient=p.user, channel=channel, text="hi").pk for p in people]
    messages, _, _, _ = changes_since(user_ids={p.user.pk for p in people})
    assert [m for m, _ in messages] == sent


def test_one_push_token_registered_by_several_accounts_at_once_has_one_holder(transactional_db):
    people = [make_person() for _ in range(4)]
    start = threading.Barrier(len(people) * 2)
    errors = []

    def register(person):
        try:
            start.wait(10)
            device_register(user=person.user, platform=Device.ANDROID, push_token="fcm-contested")
        except Exception as exc:  # noqa: BLE001 - the test's answer: no registration may fail
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(person,)) for person in people * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Device.objects.filter(push_token="fcm-contested").count() == 1
