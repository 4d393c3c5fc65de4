"""Issue 24, priority: -2..2 on Pushover's scale, agreeing with important/silent, in the inbox, the stream and every push."""

import json

import pytest
from django.test import Client

from messaging import queueing
from messaging.delivery import render
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.helpers import status_of
from tests.people import make_person

pytestmark = pytest.mark.django_db


def sent(response):
    assert status_of(response) == 200, response.content
    return Message.objects.get(pk=int(response.json()["response"]["id"]))


def inbox_item(person, message_id):
    [item] = [m for m in call(Client(), "GET", "/v1/app/messages", person).json()["messages"] if m["id"] == message_id]
    return item


@pytest.mark.parametrize("priority, important", [(-2, False), (-1, None), (0, None), (1, True)])
def test_a_json_priority_is_stored_with_the_old_important(send, valid_fields, bob, priority, important):
    message = sent(send({**valid_fields, "priority": priority}))
    assert (message.priority, message.important) == (priority, important)
    item = inbox_item(bob, message.pk)
    assert (item["priority"], item["important"]) == (priority, important)


@pytest.mark.parametrize("value, priority", [("-2", -2), ("-1", -1), ("0", 0), ("1", 1), ("", 0)])
def test_a_form_priority_is_a_decimal_string(send, valid_fields, value, priority):
    assert sent(send({**valid_fields, "priority": value}, form=True)).priority == priority


def test_a_json_string_priority_is_read_like_a_forms(send, valid_fields):
    assert sent(send({**valid_fields, "priority": "-1"})).priority == -1


def test_a_multipart_priority_is_read(client, valid_fields):
    assert sent(client.post("/v1/messages/send", {**valid_fields, "priority": "-1"})).priority == -1


@pytest.mark.parametrize("fields, priority", [({"important": 1}, 1), ({"important": 0}, -2), ({"silent": 1}, -2), ({}, 0)])
def test_important_and_silent_map_to_a_priority(send, valid_fields, fields, priority):
    assert sent(send({**valid_fields, **fields})).priority == priority


@pytest.mark.parametrize("fields", [{"important": 1, "priority": 1}, {"important": 0, "priority": -2},
                                    {"silent": 1, "priority": -2}])
def test_a_priority_that_agrees_with_important_is_accepted(send, valid_fields, fields):
    assert sent(send({**valid_fields, **fields})).priority == fields["priority"]


@pytest.mark.parametrize("fields", [{"important": 1, "priority": 0}, {"important": 1, "priority": -1},
                                    {"important": 0, "priority": 0}, {"silent": 1, "priority": -1},
                                    {"important": 1, "priority": 2, "retry": 60, "expire": 600}])
def test_a_priority_that_disagrees_with_important_or_silent_is_4005(send, valid_fields, fields):
    response = send({**valid_fields, **fields})
    assert status_of(response) == 4005 and "disagrees" in response.json()["response"]["message"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("value", [3, -3, 1.0, True, "3", "high", None])
def test_a_json_priority_outside_minus_2_to_2_is_4005(send, valid_fields, value):
    if value is None:
        value = [1]
    response = send({**valid_fields, "priority": value})
    assert status_of(response) == 4005, response.content
    assert not Message.objects.exists()


@pytest.mark.parametrize("value", ["3", "-3", "+1", "01", "-0", "1.0", " 1"])
def test_a_form_priority_outside_minus_2_to_2_is_4005(send, valid_fields, value):
    assert status_of(send({**valid_fields, "priority": value}, form=True)) == 4005


def test_an_idempotent_repeat_with_another_priority_is_4009(send, valid_fields):
    assert status_of(send({**valid_fields, "priority": -1}, HTTP_IDEMPOTENCY_KEY="k1")) == 200
    assert status_of(send({**valid_fields, "priority": -1}, HTTP_IDEMPOTENCY_KEY="k1")) == 200
    assert status_of(send({**valid_fields, "priority": 0}, HTTP_IDEMPOTENCY_KEY="k1")) == 4009


def test_the_push_carries_the_priority_in_its_data(send, valid_fields):
    message = sent(send({**valid_fields, "priority": -1}))
    push = render(Delivery.objects.select_related("message__channel", "device").get(message=message))
    assert (push.priority, push.data["priority"], push.important) == (-1, "-1", None)


def test_a_quiet_fcm_push_is_a_low_priority_notification_without_sound(push_settings, fcm, send, valid_fields):
    message = sent(send({**valid_fields, "priority": -1}))
    queueing.deliver_batch(message.pk)
    [pushed] = fcm.script.pushes
    notification = pushed["message"]["android"]["notification"]
    assert notification["notification_priority"] == "PRIORITY_LOW" and "sound" not in notification
    assert pushed["message"]["notification"]["body"] == "Door bell"  # still shown, in the list


def test_a_quiet_apns_push_is_passive_without_sound(push_settings, apns, send, channel):
    person = make_person(platform="ios", push_token="cd" * 32)
    message = sent(send({"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Door bell",
                         "priority": -1}))
    queueing.deliver_batch(message.pk)
    [pushed] = apns.script.pushes
    aps = pushed["payload"]["aps"]
    assert aps["interruption-level"] == "passive" and "sound" not in aps and aps["alert"]["body"] == "Door bell"


def test_a_normal_apns_push_keeps_its_sound(push_settings, apns, send, channel):
    person = make_person(platform="ios", push_token="cd" * 32)
    message = sent(send({"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Door bell"}))
    queueing.deliver_batch(message.pk)
    aps = apns.script.pushes[0]["payload"]["aps"]
    assert aps["sound"] == "default" and "interruption-level" not in aps


def test_the_send_schema_documents_the_priority(client):
    document = json.loads(client.get("/v1/schema").content)
    assert document["components"]["schemas"]["SendRequest"]["properties"]["priority"]["oneOf"][0]["maximum"] == 2
    assert "-1" in document["components"]["schemas"]["SendRequestForm"]["properties"]["priority"]["enum"]
