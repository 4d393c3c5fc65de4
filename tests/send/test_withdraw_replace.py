"""POST /v1/messages/withdraw, and the send API's replace field."""

import json

import pytest

from tests.helpers import status_of

from channels_app.services import channel_create
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.people import make_person
from tests.send.sender_support import stack, wait_until  # noqa: F401
from users_app.models import Device

WITHDRAW = "/v1/messages/withdraw"



def withdraw(client, channel, message_id, form=False, **fields):
    body = {"token": channel.token, "secret": channel.secret, "id": message_id, **fields}
    if form:
        from urllib.parse import urlencode

        return client.generic("POST", WITHDRAW, urlencode(body), content_type="application/x-www-form-urlencoded")
    return client.generic("POST", WITHDRAW, json.dumps(body), content_type="application/json")


@pytest.fixture
def message_id(send, valid_fields):
    return send(valid_fields).json()["response"]["id"]


def inbox_ids(client, person):
    return [m["id"] for m in call(client, "GET", "/v1/app/messages", person).json()["messages"]]


# --- withdraw ---


def test_withdraw_takes_the_message_out_of_the_inbox(client, channel, bob, message_id):
    response = withdraw(client, channel, message_id)
    assert (response.status_code, status_of(response)) == (200, 200)
    assert response.json()["response"]["id"] == message_id
    assert inbox_ids(client, bob) == []


def test_withdraw_cancels_the_queued_deliveries(client, channel, message_id):
    withdraw(client, channel, message_id)
    assert list(Delivery.objects.values_list("state", flat=True)) == [Delivery.CANCELLED]


def test_withdraw_is_idempotent(client, channel, message_id):
    first = withdraw(client, channel, message_id)
    second = withdraw(client, channel, int(message_id))
    assert status_of(first) == status_of(second) == 200


def test_withdraw_takes_a_form(client, channel, bob, message_id):
    assert status_of(withdraw(client, channel, message_id, form=True)) == 200
    assert inbox_ids(client, bob) == []


def test_withdraw_of_another_channels_message_is_4003_like_a_wrong_secret(client, alice, channel, bob, message_id):
    other = channel_create(owner=alice.user, name="Other")
    foreign = withdraw(client, other, message_id)
    wrong_secret = withdraw(client, channel, message_id, secret="0" * 64)
    unknown = withdraw(client, channel, int(message_id) + 1000)
    assert foreign.status_code == wrong_secret.status_code == unknown.status_code == 400
    assert foreign.json() == wrong_secret.json() == unknown.json()
    assert status_of(foreign) == 4003
    assert inbox_ids(client, bob) == [int(message_id)]


@pytest.mark.parametrize("bad", [None, "", "abc", -1, 1.5, True, 2**63])
def test_withdraw_with_a_bad_id_is_4005(client, channel, message_id, bad):
    fields = {"id": bad} if bad is not None else {}
    body = {"token": channel.token, "secret": channel.secret, **fields}
    response = client.generic("POST", WITHDRAW, json.dumps(body), content_type="application/json")
    assert status_of(response) == 4005


def test_withdraw_answers_get_with_405(client):
    response = client.get(WITHDRAW)
    assert (response.status_code, status_of(response)) == (405, 4005)


# --- replace ---


def test_replace_takes_the_old_messages_place_in_the_inbox(client, send, valid_fields, bob, message_id):
    new = send({**valid_fields, "message": "Door bell (2)", "replace": message_id}).json()["response"]["id"]
    assert inbox_ids(client, bob) == [int(new)]
    old = Message.objects.get(pk=message_id)
    assert old.removed_reason == Message.REPLACED
    assert Message.objects.get(pk=new).collapse_key == message_id


def test_replace_takes_a_json_integer_or_a_form_string(send, valid_fields, message_id):
    assert status_of(send({**valid_fields, "replace": int(message_id)})) == 200
    second = Message.objects.order_by("-id").first().pk
    assert status_of(send({**valid_fields, "replace": str(second)}, form=True)) == 200


def test_a_replacement_keeps_the_first_collapse_key(send, valid_fields, message_id):
    second = send({**valid_fields, "replace": message_id}).json()["response"]["id"]
    third = send({**valid_fields, "replace": second}).json()["response"]["id"]
    assert Message.objects.get(pk=third).collapse_key == message_id


def test_replace_cancels_the_old_messages_queued_pushes(send, valid_fields, message_id):
    send({**valid_fields, "replace": message_id})
    assert Delivery.objects.get(message_id=message_id).state == Delivery.CANCELLED


def test_replace_of_another_channels_message_is_4005(send, valid_fields, alice, bob):
    other = channel_create(owner=alice.user, name="Other")
    theirs = send({**valid_fields, "token": other.token, "secret": other.secret}).json()["response"]["id"]
    response = send({**valid_fields, "replace": theirs})
    assert status_of(response) == 4005
    assert Message.objects.count() == 1


def test_replace_of_a_message_to_someone_else_is_4005(send, valid_fields, charlie, message_id):
    response = send({**valid_fields, "to": charlie.token, "replace": message_id})
    assert status_of(response) == 4005


@pytest.mark.parametrize("bad", ["999999999", "abc", -1, 1.5, True, 2**63])
def test_replace_of_an_unknown_or_malformed_id_is_4005(send, valid_fields, message_id, bad):
    assert status_of(send({**valid_fields, "replace": bad})) == 4005


# --- end to end ---


@pytest.mark.slow
def test_withdraw_after_the_push_tells_the_devices(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-wd")
    Device.objects.create(user=person.user, platform="ios", push_token="ab" * 32)
    stack.start_worker()
    message_id = stack.send(person, message="Alarm: smoke in the kitchen")
    stack.wait_state(message_id, "pushed")
    wait_until(lambda: len(apns.script.accepted()) == 1 and len(fcm.script.accepted()) == 1, "both pushes")
    status, answer = stack.withdraw(message_id)
    assert status == 200, answer
    wait_until(lambda: len(fcm.script.accepted("fcm-wd")) == 2, "the FCM withdraw push", logs=stack.procs)
    wait_until(lambda: len(apns.script.accepted("ab" * 32)) == 2, "the APNs withdraw push", logs=stack.procs)
    android = fcm.script.accepted("fcm-wd")[1]["message"]
    assert android["data"] == {"type": "withdraw", "message_id": message_id}
    assert "notification" not in android and "notification" not in android.get("android", {})
    ios = apns.script.accepted("ab" * 32)[1]
    assert ios["payload"]["type"] == "withdraw" and ios["payload"]["message_id"] == message_id
    assert ios["payload"]["aps"] == {"content-available": 1}
    assert ios["headers"]["apns-push-type"] == "background"
    # Withdrawing again changes nothing and pushes nothing more.
    assert stack.withdraw(message_id)[0] == 200
    status, inbox = stack.app("GET", "/v1/app/messages", person)
    assert inbox["messages"] == []
    assert stack.status(message_id)["state"] == "withdrawn"
    wait_until(lambda: not Delivery.objects.filter(state__in=[Delivery.QUEUED, Delivery.SENDING]).exists(), "quiet")
    assert len(fcm.script.accepted("fcm-wd")) == 2 and len(apns.script.accepted("ab" * 32)) == 2


@pytest.mark.slow
def test_withdraw_before_the_push_pushes_nothing(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-early")
    message_id = stack.send(person)
    assert stack.withdraw(message_id)[0] == 200
    stack.start_worker()
    later = stack.send(make_person(platform="android", push_token="fcm-other"))
    stack.wait_state(later, "pushed")
    assert fcm.script.accepted("fcm-early") == []
    status = stack.status(message_id)
    assert status["state"] == "withdrawn"
    assert status["devices"] == {"queued": 0, "pushed": 0, "failed": 0}


@pytest.mark.slow
def test_replace_pushes_with_the_old_collapse_key(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-rep")
    Device.objects.create(user=person.user, platform="ios", push_token="ba" * 32)
    stack.start_worker()
    first = stack.send(person, message="Washing machine: 10 min left")
    stack.wait_state(first, "pushed")
    second = stack.send(person, message="Washing machine: done", replace=first)
    stack.wait_state(second, "pushed")
    androids = wait_until(lambda: len(fcm.script.accepted("fcm-rep")) == 2 and fcm.script.accepted("fcm-rep"), "pushes")
    ioss = wait_until(lambda: len(apns.script.accepted("ba" * 32)) == 2 and apns.script.accepted("ba" * 32), "pushes")
    assert [p["message"]["android"]["notification"]["tag"] for p in androids] == [first, first]
    assert [p["headers"]["apns-collapse-id"] for p in ioss] == [first, first]
    assert androids[1]["message"]["data"]["message_id"] == second
    status, inbox = stack.app("GET", "/v1/app/messages", person)
    assert [(m["id"], m["message"]) for m in inbox["messages"]] == [(int(second), "Washing machine: done")]
