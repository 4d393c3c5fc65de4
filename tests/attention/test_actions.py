"""Issue 24, action buttons: at most 3 view or callback buttons, in the inbox and the pushes; a pressed callback is
the channel's webhook event action.pressed."""

import json

import pytest
from django.test import Client
from standardwebhooks import Webhook

from messaging import queueing, webhooks
from messaging.models import Delivery, Message, WebhookEvent
from messaging.delivery import render
from messaging.providers.base import Push
from messaging.providers.webpush import payload
from tests.app_api import call
from tests.attention.receiver import receiver  # noqa: F401 (fixture)
from tests.helpers import status_of

pytestmark = pytest.mark.django_db

VIEW = {"type": "view", "label": "Open Grafana", "url": "https://grafana.example.com/d/1"}
CALLBACK = {"type": "callback", "label": "Restart", "id": "restart_web-1"}


def sent(response):
    assert status_of(response) == 200, response.content
    return Message.objects.get(pk=int(response.json()["response"]["id"]))


def inbox(person):
    return call(Client(), "GET", "/v1/app/messages", person).json()["messages"]


def press(person, message_id, action_id):
    """The 202 has no body (the schema helper `call` expects JSON or a 204)."""
    return Client().post(f"/v1/app/messages/{message_id}/actions/{action_id}", **person.auth)


def test_json_actions_are_in_the_inbox_item_in_order(send, valid_fields, bob):
    message = sent(send({**valid_fields, "actions": [CALLBACK, VIEW]}))
    [item] = inbox(bob)
    assert item["id"] == message.pk and item["actions"] == [CALLBACK, VIEW]


def test_form_and_multipart_actions_are_a_json_string(send, client, valid_fields, bob):
    sent(send({**valid_fields, "actions": json.dumps([VIEW])}, form=True))
    sent(client.post("/v1/messages/send", {**valid_fields, "actions": json.dumps([CALLBACK])}))
    assert [item["actions"] for item in inbox(bob)] == [[CALLBACK], [VIEW]]


def test_without_actions_the_item_has_an_empty_list(send, valid_fields, bob):
    sent(send(valid_fields))
    assert inbox(bob)[0]["actions"] == []


def test_three_actions_are_accepted(send, valid_fields):
    actions = [VIEW, CALLBACK, {**CALLBACK, "id": "other", "label": "x" * 40}]
    assert json.loads(sent(send({**valid_fields, "actions": actions})).actions) == actions


@pytest.mark.parametrize("actions", [
    [VIEW] * 4,
    [{**VIEW, "type": "http"}],
    [{**VIEW, "label": ""}],
    [{**VIEW, "label": "x" * 41}],
    [{**VIEW, "label": "two\nlines"}],
    [{**VIEW, "url": "ftp://example.com"}],
    [{**VIEW, "url": "javascript:alert(1)"}],
    [{"type": "view", "label": "No url"}],
    [{**CALLBACK, "id": "Upper"}],
    [{**CALLBACK, "id": "x" * 33}],
    [{**CALLBACK, "id": ""}],
    [{**CALLBACK, "id": 7}],
    [{**CALLBACK, "url": "https://example.com"}],
    [{**VIEW, "extra": 1}],
    ["view"],
    {"type": "view"},
    "not json",
    7,
])
def test_anything_else_is_4005(send, valid_fields, actions):
    response = send({**valid_fields, "actions": actions})
    assert status_of(response) == 4005, response.content
    assert "actions" in response.json()["response"]["message"]
    assert not Message.objects.exists()


def test_a_form_with_a_bad_json_string_is_4005(send, valid_fields):
    assert status_of(send({**valid_fields, "actions": "[{"}, form=True)) == 4005


def test_the_pushes_carry_the_actions(push_settings, fcm, send, valid_fields):
    message = sent(send({**valid_fields, "actions": [VIEW, CALLBACK]}))
    queueing.deliver_batch(message.pk)
    [pushed] = fcm.script.pushes
    assert json.loads(pushed["message"]["data"]["actions"]) == [VIEW, CALLBACK]


def test_the_web_push_payload_carries_the_actions(send, valid_fields):
    message = sent(send({**valid_fields, "actions": [VIEW]}))
    push = render(Delivery.objects.select_related("message__channel", "device").get(message=message))
    web = Push(**{**push.__dict__, "web_keys": {"p256dh": "", "auth": ""}})
    assert json.loads(payload(web))["actions"] == [VIEW]


def test_pressing_a_callback_sends_a_signed_action_pressed(alice, channel, receiver, send, valid_fields, bob):
    call(Client(), "PATCH", f"/v1/app/channels/{channel.token}", alice, {"webhook_url": receiver.url})
    message = sent(send({**valid_fields, "actions": [VIEW, CALLBACK]}))
    response = press(bob, message.pk, "restart_web-1")
    assert response.status_code == 202
    webhooks.deliver_due()
    [request] = receiver.requests
    channel.refresh_from_db()
    body = Webhook(channel.webhook_secret).verify(request["body"], request["headers"])
    assert (body["type"], body["data"]) == ("action.pressed", {"id": str(message.pk), "action": "restart_web-1"})


def test_each_press_is_an_event(alice, channel, receiver, send, valid_fields, bob):
    call(Client(), "PATCH", f"/v1/app/channels/{channel.token}", alice, {"webhook_url": receiver.url})
    message = sent(send({**valid_fields, "actions": [CALLBACK]}))
    press(bob, message.pk, "restart_web-1")
    press(bob, message.pk, "restart_web-1")
    assert WebhookEvent.objects.filter(type="action.pressed").count() == 2


@pytest.mark.parametrize("action_id", ["nope", "Open Grafana", "view"])
def test_an_unknown_action_is_404(send, valid_fields, bob, action_id):
    message = sent(send({**valid_fields, "actions": [VIEW, CALLBACK]}))
    response = press(bob, message.pk, action_id)
    assert response.status_code == 404 and response.json()["response"]["status"] == 4004


def test_someone_elses_message_is_404(send, valid_fields, charlie):
    message = sent(send({**valid_fields, "actions": [CALLBACK]}))
    assert press(charlie, message.pk, "restart_web-1").status_code == 404


def test_the_send_schema_describes_the_actions(client):
    document = json.loads(client.get("/v1/schema").content)
    actions = document["components"]["schemas"]["SendRequest"]["properties"]["actions"]
    assert actions["maxItems"] == 3
