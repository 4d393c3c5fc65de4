"""POST /v1/messages/status, and the recipient's read receipts setting."""

import json

import pytest

from tests.helpers import status_of

from channels_app.services import channel_create
from messaging.models import Message
from tests.app_api import call
from tests.people import make_person
from tests.send.sender_support import stack, time_travel_expiry, wait_until  # noqa: F401
from users_app.models import Device

STATUS = "/v1/messages/status"



def ask(client, channel, message_id, form=False, **fields):
    body = {"token": channel.token, "secret": channel.secret, "id": message_id, **fields}
    if form:
        from urllib.parse import urlencode

        return client.generic("POST", STATUS, urlencode(body), content_type="application/x-www-form-urlencoded")
    return client.generic("POST", STATUS, json.dumps(body), content_type="application/json")


def state_of(client, channel, message_id):
    response = ask(client, channel, message_id)
    assert response.status_code == 200, response.content
    return response.json()["response"]["message"]


@pytest.fixture
def message_id(send, valid_fields):
    return send(valid_fields).json()["response"]["id"]


def test_a_new_message_is_queued(client, channel, message_id):
    response = ask(client, channel, message_id)
    assert (response.status_code, status_of(response)) == (200, 200)
    status = response.json()["response"]["message"]
    assert status["id"] == message_id
    assert (status["state"], status["pushed_at"], status["read_at"]) == ("queued", None, None)
    assert status["devices"] == {"queued": 1, "pushed": 0, "failed": 0}
    assert status["created_at"].startswith(str(Message.objects.get().created_at.year))


def test_the_id_may_be_a_json_integer_or_a_form_string(client, channel, message_id):
    assert status_of(ask(client, channel, int(message_id))) == 200
    assert status_of(ask(client, channel, message_id, form=True)) == 200


def test_no_active_device_is_inbox_only(client, send, valid_fields, channel):
    person = make_person(platform="web", push_token="")
    message_id = send({**valid_fields, "to": person.token}).json()["response"]["id"]
    status = state_of(client, channel, message_id)
    assert status["state"] == "inbox_only"
    assert status["devices"] == {"queued": 0, "pushed": 0, "failed": 0}


def test_important_0_is_inbox_only(client, send, valid_fields, channel):
    message_id = send({**valid_fields, "important": 0}).json()["response"]["id"]
    assert state_of(client, channel, message_id)["state"] == "inbox_only"


def test_read_is_shown_with_its_time(client, channel, bob, message_id):
    call(client, "POST", f"/v1/app/messages/{message_id}/read", bob)
    status = state_of(client, channel, message_id)
    assert status["state"] == "read" and status["read_at"]


def test_read_receipts_are_on_by_default_and_shown_by_me(client, bob):
    assert call(client, "GET", "/v1/app/me", bob).json()["read_receipts"] is True


def test_read_receipts_off_hides_the_read_state(client, channel, bob, message_id):
    response = call(client, "PATCH", "/v1/app/me", bob, {"read_receipts": False})
    assert response.status_code == 200 and response.json()["read_receipts"] is False
    assert call(client, "GET", "/v1/app/me", bob).json()["read_receipts"] is False
    call(client, "POST", f"/v1/app/messages/{message_id}/read", bob)
    status = state_of(client, channel, message_id)
    assert (status["state"], status["read_at"]) == ("queued", None)


def test_read_receipts_can_be_turned_on_again(client, channel, bob, message_id):
    call(client, "PATCH", "/v1/app/me", bob, {"read_receipts": False})
    call(client, "POST", f"/v1/app/messages/{message_id}/read", bob)
    call(client, "PATCH", "/v1/app/me", bob, {"read_receipts": True})
    assert state_of(client, channel, message_id)["state"] == "read"


@pytest.mark.parametrize("value", ["false", 0, None])
def test_read_receipts_must_be_a_boolean(client, bob, value):
    response = call(client, "PATCH", "/v1/app/me", bob, {"read_receipts": value})
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_patch_me_ignores_fields_it_does_not_own(client, bob):
    response = call(client, "PATCH", "/v1/app/me", bob, {"blocked": True, "user_token": "u_x"})
    assert response.status_code == 200
    bob.user.refresh_from_db()
    assert not bob.user.is_blocked and response.json()["user_token"] == bob.token


def test_another_channel_is_refused_exactly_like_a_wrong_secret(client, alice, channel, message_id):
    other = channel_create(owner=alice.user, name="Other")
    foreign = ask(client, other, message_id)
    wrong = ask(client, channel, message_id, secret="0" * 64)
    unknown = ask(client, channel, int(message_id) + 1000)
    for response in (foreign, wrong, unknown):
        assert (response.status_code, status_of(response)) == (400, 4003)
    assert foreign.json() == wrong.json() == unknown.json()


def test_failed_lookups_count_as_failed_attempts(client, alice, channel, message_id, settings):
    settings.SEND_AUTH_FAILURE_RATE = "2/m"
    other = channel_create(owner=alice.user, name="Other")
    ask(client, other, message_id)
    ask(client, other, message_id)
    assert status_of(ask(client, channel, message_id)) == 4029


def test_a_withdrawn_message_keeps_its_status(client, channel, message_id):
    client.generic("POST", "/v1/messages/withdraw",
                   json.dumps({"token": channel.token, "secret": channel.secret, "id": message_id}),
                   content_type="application/json")
    status = state_of(client, channel, message_id)
    assert status["state"] == "withdrawn"
    assert status["devices"] == {"queued": 0, "pushed": 0, "failed": 0}


def test_a_message_the_recipient_deleted_keeps_its_status(client, channel, bob, message_id):
    assert call(client, "DELETE", f"/v1/app/messages/{message_id}", bob).status_code == 204
    assert state_of(client, channel, message_id)["id"] == message_id


@pytest.mark.parametrize("bad", [None, "", "abc", -1, 0, 1.5, True, 2**63])
def test_a_missing_or_malformed_id_is_4005(client, channel, message_id, bad):
    fields = {"id": bad} if bad is not None else {}
    body = {"token": channel.token, "secret": channel.secret, **fields}
    response = client.generic("POST", STATUS, json.dumps(body), content_type="application/json")
    assert status_of(response) == 4005


def test_status_answers_get_with_405(client):
    response = client.get(STATUS)
    assert (response.status_code, status_of(response)) == (405, 4005)


# --- end to end: every state, with a real worker and the stand-ins ---


@pytest.mark.slow
def test_status_through_queued_pushed_and_read(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-st")
    Device.objects.create(user=person.user, platform="ios", push_token="fe" * 32)
    message_id = stack.send(person)
    status = stack.status(message_id)
    assert status["state"] == "queued" and status["devices"] == {"queued": 2, "pushed": 0, "failed": 0}
    stack.start_worker()
    wait_until(lambda: stack.status(message_id)["devices"]["pushed"] == 2, "both pushes", logs=stack.procs)
    status = stack.status(message_id)
    assert status["state"] == "pushed" and status["pushed_at"] and status["read_at"] is None
    assert stack.app("POST", f"/v1/app/messages/{message_id}/read", person)[0] == 204
    status = stack.status(message_id)
    assert status["state"] == "read" and status["read_at"]


@pytest.mark.slow
def test_status_failed_when_every_delivery_fails(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-dead-st")
    Device.objects.create(user=person.user, platform="ios", push_token="ed" * 32)
    fcm.script.set_outcomes("fcm-dead-st", ["unregistered"])
    apns.script.set_outcomes("ed" * 32, ["unregistered"])
    stack.start_worker()
    message_id = stack.send(person)
    status = stack.wait_state(message_id, "failed")
    assert status["devices"] == {"queued": 0, "pushed": 0, "failed": 2}


@pytest.mark.slow
def test_status_pushed_when_one_of_two_devices_fails(stack, fcm, apns):
    person = make_person(platform="android", push_token="fcm-half")
    Device.objects.create(user=person.user, platform="ios", push_token="dd" * 32)
    apns.script.set_outcomes("dd" * 32, ["unregistered"])
    stack.start_worker()
    message_id = stack.send(person)
    wait_until(lambda: stack.status(message_id)["devices"] == {"queued": 0, "pushed": 1, "failed": 1}, "the outcomes",
               logs=stack.procs)
    assert stack.status(message_id)["state"] == "pushed"


@pytest.mark.slow
def test_status_inbox_only_expired_and_withdrawn(stack, fcm):
    stack.start_worker()
    no_device = make_person(platform="web", push_token="")
    assert stack.status(stack.send(no_device))["state"] == "inbox_only"
    unreachable = make_person(platform="android", push_token="fcm-down")
    fcm.script.set_outcomes("fcm-down", ["unavailable"] * 1000)
    expiring = stack.send(unreachable, ttl=60)
    wait_until(lambda: fcm.script.pushes, "an attempt", logs=stack.procs)
    time_travel_expiry(int(expiring))
    stack.wait_state(expiring, "expired")
    reachable = make_person(platform="android", push_token="fcm-up")
    withdrawn = stack.send(reachable)
    stack.wait_state(withdrawn, "pushed")
    assert stack.withdraw(withdrawn)[0] == 200
    assert stack.status(withdrawn)["state"] == "withdrawn"


@pytest.mark.slow
def test_status_is_refused_to_another_channel_over_http(stack):
    person = make_person(platform="web", push_token="")
    message_id = stack.send(person)
    other = channel_create(owner=make_person().user, name="Nosy")
    from tests.send.sender_support import post

    foreign = post(stack.url + "/v1/messages/status", {**stack.credentials(other), "id": message_id})
    wrong = post(stack.url + "/v1/messages/status", {**stack.credentials(), "secret": "f" * 64, "id": message_id})
    assert foreign == wrong == (400, {"response": {"status": 4003, "message": foreign[1]["response"]["message"]}})


@pytest.mark.slow
def test_read_receipts_off_over_http(stack, fcm):
    person = make_person(platform="android", push_token="fcm-private")
    stack.start_worker()
    assert stack.app("PATCH", "/v1/app/me", person, {"read_receipts": False})[0] == 200
    message_id = stack.send(person)
    stack.wait_state(message_id, "pushed")
    assert stack.app("POST", f"/v1/app/messages/{message_id}/read", person)[0] == 204
    status = stack.status(message_id)
    assert (status["state"], status["read_at"]) == ("pushed", None)
