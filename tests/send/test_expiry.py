"""ttl: the providers get the time left, nothing is pushed after it, and the message leaves the inbox."""

import time

import pytest

from tests.helpers import status_of

from messaging.models import Delivery, Message
from tests.people import make_person
from tests.send.sender_support import stack, time_travel_expiry, wait_until  # noqa: F401
from users_app.models import Device



@pytest.mark.parametrize("ttl", [60, 3600, 2419200])
def test_it_accepts_a_json_integer_ttl(send, valid_fields, ttl):
    response = send({**valid_fields, "ttl": ttl})
    assert status_of(response) == 200
    message = Message.objects.get()
    assert abs((message.expires_at - message.created_at).total_seconds() - ttl) < 1


def test_it_accepts_a_decimal_string_ttl_in_a_form(send, valid_fields):
    assert status_of(send({**valid_fields, "ttl": "600"}, form=True)) == 200
    assert Message.objects.get().expires_at is not None


def test_an_empty_form_ttl_is_no_ttl(send, valid_fields):
    assert status_of(send({**valid_fields, "ttl": ""}, form=True)) == 200
    assert Message.objects.get().expires_at is None


def test_without_ttl_nothing_expires(send, valid_fields):
    send(valid_fields)
    assert Message.objects.get().expires_at is None


@pytest.mark.parametrize("ttl", [59, 2419201, 0, -60, 600.5, "600", True, [600], {"s": 1}])
def test_it_refuses_any_other_json_ttl(send, valid_fields, ttl):
    response = send({**valid_fields, "ttl": ttl})
    assert status_of(response) == 4005
    assert not Message.objects.exists()


@pytest.mark.parametrize("ttl", ["59", "2419201", "1e3", "600.0", " 600", "+600", "0x100", "sixty"])
def test_it_refuses_any_other_form_ttl(send, valid_fields, ttl):
    assert status_of(send({**valid_fields, "ttl": ttl}, form=True)) == 4005


@pytest.mark.slow
def test_the_providers_get_the_time_left(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-ttl")
    Device.objects.create(user=person.user, platform="ios", push_token="cd" * 32)
    stack.start_worker()
    before = time.time()
    message_id = stack.send(person, ttl=600)
    [android] = wait_until(lambda: fcm.script.accepted("fcm-ttl"), "the FCM push", logs=stack.procs)
    [ios] = wait_until(lambda: apns.script.accepted("cd" * 32), "the APNs push", logs=stack.procs)
    ttl = android["message"]["android"]["ttl"]
    assert ttl.endswith("s") and 590 <= int(ttl[:-1]) <= 600, ttl
    expiration = int(ios["headers"]["apns-expiration"])
    assert before + 590 <= expiration <= time.time() + 601
    assert android["message"]["data"]["message_id"] == message_id


@pytest.mark.slow
def test_without_ttl_the_providers_get_no_expiry(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-nottl")
    Device.objects.create(user=person.user, platform="ios", push_token="ce" * 32)
    stack.start_worker()
    stack.send(person)
    [android] = wait_until(lambda: fcm.script.accepted("fcm-nottl"), "the FCM push", logs=stack.procs)
    [ios] = wait_until(lambda: apns.script.accepted("ce" * 32), "the APNs push", logs=stack.procs)
    assert "ttl" not in android["message"]["android"]
    assert "apns-expiration" not in ios["headers"]


@pytest.mark.slow
def test_nothing_is_pushed_after_the_ttl(stack, fcm):
    person = make_person(platform="android", push_token="fcm-late")
    fcm.script.set_outcomes("fcm-late", ["unavailable"] * 1000)
    stack.start_worker()
    message_id = stack.send(person, ttl=60)
    wait_until(lambda: len(fcm.script.pushes) >= 2, "two refused attempts", logs=stack.procs)
    time_travel_expiry(int(message_id))
    rows = wait_until(
        lambda: list(Delivery.objects.filter(message_id=message_id, state=Delivery.EXPIRED)), "the expired delivery",
        logs=stack.procs,
    )
    attempts = len(fcm.script.pushes)
    time.sleep(1.5)  # a retry would have been due several times over (base delay 0.2 s)
    assert len(fcm.script.pushes) == attempts
    assert rows[0].state == Delivery.EXPIRED
    assert stack.status(message_id)["state"] == "expired"


@pytest.mark.slow
def test_an_expired_message_leaves_the_inbox_within_the_beat(stack, fcm):
    person = make_person(platform="android", push_token="fcm-gone")
    stack.start_worker()
    kept = stack.send(person, message="Stays")
    message_id = stack.send(person, ttl=60, message="Your code is 123456")
    status, inbox = stack.app("GET", "/v1/app/messages", person)
    assert [m["id"] for m in inbox["messages"]] == [int(message_id), int(kept)]
    wait_until(lambda: Delivery.objects.filter(message_id=message_id, state=Delivery.ACCEPTED).exists(),
               "the push before the expiry", logs=stack.procs)
    time_travel_expiry(int(message_id))
    wait_until(
        lambda: [m["id"] for m in stack.app("GET", "/v1/app/messages", person)[1]["messages"]] == [int(kept)],
        "the inbox without the expired message", logs=stack.procs,
    )
    wait_until(lambda: Message.objects.get(pk=message_id).removed_reason == Message.EXPIRED, "the beat",
               logs=stack.procs)
    # The status survives the message's removal from the inbox; it was pushed before it expired.
    assert stack.status(message_id)["state"] == "pushed"
