"""Issue 24, emergency (priority 2): repeated every `retry` seconds until acknowledged, expired or withdrawn."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from messaging import queueing
from messaging.emergency import emergencies_tick
from messaging.models import Delivery, Message
from messaging.services import message_withdraw
from tests.app_api import call
from tests.helpers import status_of
from tests.people import make_person

pytestmark = pytest.mark.django_db

EMERGENCY = {"priority": 2, "retry": 60, "expire": 3600}


def sent(response):
    assert status_of(response) == 200, response.content
    return Message.objects.get(pk=int(response.json()["response"]["id"]))


def status(client, channel, message):
    body = {"token": channel.token, "secret": channel.secret, "id": str(message.pk)}
    return client.post("/v1/messages/status", json.dumps(body), content_type="application/json").json()["response"]


def due_now(message):
    """Moves the next repeat to now, as if `retry` seconds had passed."""
    Message.objects.filter(pk=message.pk).update(emergency_next_at=timezone.now() - timedelta(seconds=1))


def ack(person, message):
    return call(Client(), "POST", f"/v1/app/messages/{message.pk}/ack", person)


@pytest.fixture
def emergency(push_settings, fcm, send, valid_fields):
    message = sent(send({**valid_fields, **EMERGENCY}))
    queueing.deliver_batch(message.pk)  # the first push, accepted
    return message


def test_an_emergency_is_stored_with_its_schedule(send, valid_fields):
    message = sent(send({**valid_fields, **EMERGENCY}))
    assert (message.priority, message.important, message.emergency_retry) == (2, True, 60)
    assert message.emergency_next_at == message.created_at + timedelta(seconds=60)
    assert message.emergency_until == message.created_at + timedelta(seconds=3600)


def test_a_form_emergency_takes_decimal_strings(send, valid_fields):
    message = sent(send({**valid_fields, "priority": "2", "retry": "30", "expire": "10800"}, form=True))
    assert (message.emergency_retry, message.emergency_until - message.created_at) == (30, timedelta(hours=3))


@pytest.mark.parametrize("fields, problem", [
    ({"priority": 2}, "requires retry and expire"),
    ({"priority": 2, "retry": 60}, "requires retry and expire"),
    ({"priority": 2, "expire": 60}, "requires retry and expire"),
    ({"priority": 2, "retry": 29, "expire": 600}, "at least 30"),
    ({"priority": 2, "retry": 30, "expire": 10801}, "at most 10800"),
    ({"priority": 2, "retry": 0, "expire": 600}, "whole number"),
    ({"priority": 2, "retry": -30, "expire": 600}, "whole number"),
    ({"priority": 2, "retry": 30.5, "expire": 600}, "whole number"),
    ({"priority": 2, "retry": "x", "expire": 600}, "whole number"),
])
def test_an_emergency_without_a_valid_retry_and_expire_is_4005(send, valid_fields, fields, problem):
    response = send({**valid_fields, **fields})
    assert status_of(response) == 4005 and problem in response.json()["response"]["message"], response.content
    assert not Message.objects.exists()


def test_the_least_retry_is_emergency_min_retry(send, valid_fields, settings):
    settings.EMERGENCY_MIN_RETRY = 90
    assert status_of(send({**valid_fields, **EMERGENCY})) == 4005
    assert status_of(send({**valid_fields, **EMERGENCY, "retry": 90})) == 200


def test_retry_and_expire_are_ignored_below_priority_2(send, valid_fields):
    message = sent(send({**valid_fields, "priority": 1, "retry": 1, "expire": 99999}))
    assert (message.emergency_retry, message.emergency_next_at, message.emergency_until) == (None, None, None)


def test_nothing_is_repeated_before_retry_seconds(emergency, fcm):
    assert emergencies_tick() == ([], [])
    assert not Delivery.objects.filter(kind=Delivery.REPEAT).exists()


def test_a_due_repeat_is_pushed_again_with_the_same_collapse_id(emergency, fcm):
    due_now(emergency)
    assert emergencies_tick()[0] == [emergency.pk]
    queueing.deliver_batch(emergency.pk)
    first, again = fcm.script.pushes
    assert first["message"]["android"]["notification"]["tag"] == again["message"]["android"]["notification"]["tag"]
    assert again["message"]["data"]["priority"] == "2"
    assert Delivery.objects.get(message=emergency, kind=Delivery.REPEAT).state == Delivery.ACCEPTED


def test_the_next_repeat_keeps_the_schedule(emergency):
    planned = timezone.now() - timedelta(seconds=5)
    Message.objects.filter(pk=emergency.pk).update(emergency_next_at=planned)
    emergencies_tick()
    assert Message.objects.get(pk=emergency.pk).emergency_next_at == planned + timedelta(seconds=60)


def test_a_tick_far_behind_schedule_repeats_once_not_for_every_missed_period(emergency, fcm):
    Message.objects.filter(pk=emergency.pk).update(emergency_next_at=timezone.now() - timedelta(seconds=600))
    emergencies_tick()
    emergencies_tick()
    queueing.deliver_batch(emergency.pk)
    assert len(fcm.script.pushes) == 2
    assert Message.objects.get(pk=emergency.pk).emergency_next_at > timezone.now() + timedelta(seconds=50)


def test_a_repeat_still_queued_is_not_queued_twice(emergency, fcm):
    due_now(emergency)
    emergencies_tick()
    due_now(emergency)
    emergencies_tick()  # the first repeat was never pushed (a dead worker, say)
    assert Delivery.objects.filter(message=emergency, kind=Delivery.REPEAT, state=Delivery.QUEUED).count() == 1
    queueing.deliver_batch(emergency.pk)
    assert len(fcm.script.pushes) == 2


def test_each_period_repeats_again(emergency, fcm):
    for _ in range(3):
        due_now(emergency)
        emergencies_tick()
        queueing.deliver_batch(emergency.pk)
    assert len(fcm.script.pushes) == 4


def test_acknowledging_stops_the_repeats_and_marks_it_read(emergency, fcm, bob):
    due_now(emergency)
    emergencies_tick()  # a repeat is queued
    assert ack(bob, emergency).status_code == 204
    queueing.deliver_batch(emergency.pk)
    due_now(emergency)
    emergencies_tick()
    queueing.deliver_batch(emergency.pk)
    assert [p["message"]["data"].get("type") for p in fcm.script.pushes] == [None, "dismiss"]  # no repeat
    message = Message.objects.get(pk=emergency.pk)
    assert message.acknowledged_at and message.read_at and message.emergency_next_at is None
    assert Delivery.objects.get(message=emergency, kind=Delivery.REPEAT).state == Delivery.CANCELLED


def test_acknowledging_is_idempotent(emergency, bob):
    assert ack(bob, emergency).status_code == 204
    first = Message.objects.get(pk=emergency.pk).acknowledged_at
    assert ack(bob, emergency).status_code == 204
    assert Message.objects.get(pk=emergency.pk).acknowledged_at == first


def test_acknowledging_someone_elses_message_is_404(emergency, charlie):
    response = ack(charlie, emergency)
    assert response.status_code == 404 and response.json()["response"]["status"] == 4004
    assert Message.objects.get(pk=emergency.pk).acknowledged_at is None


def inbox_events(person):
    from messaging.models import InboxEvent

    return [(e.kind, json.loads(e.data)) for e in InboxEvent.objects.filter(user=person.user).order_by("id")]


def test_acknowledging_tells_the_other_devices_it_is_read_and_acknowledged(emergency, bob):
    ack(bob, emergency)
    assert inbox_events(bob) == [("read", {"ids": [emergency.pk]}), ("acknowledged", {"id": emergency.pk})]
    ack(bob, emergency)  # once acknowledged, again changes nothing and tells nobody
    assert len(inbox_events(bob)) == 2


def test_acknowledging_a_read_message_tells_only_the_acknowledgement(emergency, bob):
    assert call(Client(), "POST", f"/v1/app/messages/{emergency.pk}/read", bob).status_code == 204
    ack(bob, emergency)
    assert inbox_events(bob) == [("read", {"ids": [emergency.pk]}), ("acknowledged", {"id": emergency.pk})]


def test_an_emergency_past_expire_ends(emergency, fcm):
    Message.objects.filter(pk=emergency.pk).update(emergency_until=timezone.now() - timedelta(seconds=1),
                                                   emergency_next_at=timezone.now() - timedelta(seconds=1))
    assert emergencies_tick() == ([], [emergency.pk])
    assert Message.objects.get(pk=emergency.pk).emergency_next_at is None
    assert emergencies_tick() == ([], [])
    assert len(fcm.script.pushes) == 1


def test_a_queued_repeat_past_expire_is_not_pushed(emergency, fcm):
    due_now(emergency)
    emergencies_tick()
    Message.objects.filter(pk=emergency.pk).update(emergency_until=timezone.now() - timedelta(seconds=1))
    queueing.deliver_batch(emergency.pk)
    assert len(fcm.script.pushes) == 1
    assert Delivery.objects.get(message=emergency, kind=Delivery.REPEAT).state == Delivery.CANCELLED


def test_a_withdrawn_emergency_is_not_repeated(emergency, fcm, channel):
    assert message_withdraw(channel_id=channel.pk, message_id=emergency.pk)
    due_now(emergency)
    assert emergencies_tick()[0] == []
    queueing.deliver_batch(emergency.pk)
    assert [p["message"]["data"].get("type") for p in fcm.script.pushes] == [None, "withdraw"]


def test_every_device_that_got_it_gets_the_repeats(push_settings, fcm, apns, send, channel):
    person = make_person(platform="android", push_token="fcm-emergency")
    from users_app.models import Device

    Device.objects.create(user=person.user, platform="ios", push_token="ab" * 32)
    message = sent(send({"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Fire",
                         **EMERGENCY}))
    queueing.deliver_batch(message.pk)
    due_now(message)
    emergencies_tick()
    queueing.deliver_batch(message.pk)
    assert len(fcm.script.pushes) == 2 and len(apns.script.pushes) == 2
    assert apns.script.pushes[1]["payload"]["aps"]["category"] == "KILOPUSH_EMERGENCY"
    assert apns.script.pushes[0]["headers"]["apns-collapse-id"] == apns.script.pushes[1]["headers"]["apns-collapse-id"]


def test_acknowledging_dismisses_the_notification_on_every_device_that_showed_it(push_settings, fcm, apns, send,
                                                                                 channel):
    from users_app.models import Device

    person = make_person(platform="android", push_token="fcm-dismiss")
    Device.objects.create(user=person.user, platform="ios", push_token="cd" * 32)
    never_shown = Device.objects.create(user=person.user, platform="android", push_token="fcm-dismiss-later")
    message = sent(send({"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Fire",
                         **EMERGENCY}))
    Delivery.objects.filter(message=message, device=never_shown).update(state=Delivery.REJECTED)
    queueing.deliver_batch(message.pk)
    assert ack(person, message).status_code == 204
    queueing.deliver_batch(message.pk)
    android = fcm.script.accepted("fcm-dismiss")[-1]["message"]
    assert android["data"] == {"type": "dismiss", "message_id": str(message.pk)}
    assert "notification" not in android and "notification" not in android.get("android", {})
    ios = apns.script.accepted("cd" * 32)[-1]
    assert (ios["payload"]["type"], ios["payload"]["message_id"]) == ("dismiss", str(message.pk))
    assert ios["headers"]["apns-push-type"] == "background"
    assert fcm.script.accepted("fcm-dismiss-later") == []  # it never showed the message: nothing to take away
    assert ack(person, message).status_code == 204  # again: nothing more is pushed
    queueing.deliver_batch(message.pk)
    assert Delivery.objects.filter(message=message, kind=Delivery.DISMISS).count() == 2
    assert len(fcm.script.accepted("fcm-dismiss")) == 2 and len(apns.script.accepted("cd" * 32)) == 2


def test_a_push_not_yet_sent_when_acknowledged_never_goes(push_settings, fcm, send, valid_fields, bob):
    message = sent(send({**valid_fields, **EMERGENCY}))  # its push is queued: the worker is behind
    assert ack(bob, message).status_code == 204  # answered on another device (the web app, live)
    queueing.deliver_batch(message.pk)
    assert fcm.script.pushes == []  # no alarm after the answer, and nothing to dismiss
    push = Delivery.objects.get(message=message, kind=Delivery.PUSH)
    assert (push.state, push.last_error) == (Delivery.CANCELLED, "acknowledged")
    assert not Delivery.objects.filter(message=message, kind=Delivery.DISMISS).exists()


def test_a_push_a_dead_worker_held_is_not_sent_after_the_acknowledgement(push_settings, fcm, send, valid_fields, bob):
    from messaging import delivery

    message = sent(send({**valid_fields, **EMERGENCY}))
    [held] = delivery.claim(message.pk)  # the worker that claimed it dies before the push
    assert ack(bob, message).status_code == 204
    Delivery.objects.filter(pk=held.pk).update(state=Delivery.QUEUED)  # what the sweep does after the claim timeout
    queueing.deliver_batch(message.pk)
    assert fcm.script.pushes == []
    assert Delivery.objects.get(pk=held.pk).state == Delivery.CANCELLED


def test_a_repeat_shown_after_the_dismiss_gets_another(emergency, fcm, bob):
    """A repeat in flight when the message is acknowledged lands after the dismiss: the dismiss goes again."""
    from messaging import delivery

    due_now(emergency)
    emergencies_tick()
    [repeat] = delivery.claim(emergency.pk, limit=10)  # in flight: the provider has it
    assert repeat.kind == Delivery.REPEAT
    assert ack(bob, emergency).status_code == 204
    queueing.deliver_batch(emergency.pk)  # the dismiss goes first
    assert [p["message"]["data"].get("type") for p in fcm.script.pushes] == [None, "dismiss"]
    repeat.state = Delivery.ACCEPTED  # then the repeat's answer: shown again
    Delivery.objects.filter(pk=repeat.pk).update(state=Delivery.ACCEPTED)
    assert delivery.taken_away_in_flight([repeat]) == [emergency.pk]
    queueing.deliver_batch(emergency.pk)
    assert [p["message"]["data"].get("type") for p in fcm.script.pushes] == [None, "dismiss", "dismiss"]
    assert delivery.taken_away_in_flight([]) == []


def test_the_status_tells_the_acknowledgement_and_the_end_of_repeats(emergency, bob, client, channel):
    answer = status(client, channel, emergency)["message"]
    assert (answer["acknowledged"], answer["acknowledged_at"]) == (False, None)
    assert answer["expires_at"] == emergency.emergency_until.isoformat().replace("+00:00", "Z")
    ack(bob, emergency)
    answer = status(client, channel, emergency)["message"]
    assert answer["acknowledged"] is True and answer["acknowledged_at"].endswith("Z")


def test_read_receipts_off_do_not_hide_an_acknowledgement(emergency, bob, client, channel):
    bob.user.read_receipts = False
    bob.user.save(update_fields=["read_receipts"])
    ack(bob, emergency)
    answer = status(client, channel, emergency)["message"]
    assert answer["read_at"] is None and answer["acknowledged"] is True and answer["acknowledged_at"]


def test_the_inbox_item_says_whether_it_was_acknowledged(emergency, bob):
    def item():
        return call(Client(), "GET", "/v1/app/messages", bob).json()["messages"][0]

    assert (item()["priority"], item()["acknowledged"]) == (2, False)
    ack(bob, emergency)
    assert item()["acknowledged"] is True and item()["read"] is True
