"""The send API's optional `title`: one line of at most 250 characters, in the inbox, the stream and every push."""

import json

import pytest
from django.test import Client

from messaging.delivery import render
from messaging.models import Delivery, Message
from messaging.services import inbox_delete
from tests.app_api import call
from tests.helpers import status_of

pytestmark = pytest.mark.django_db


def inbox_item(person, message_id):
    [item] = [m for m in call(Client(), "GET", "/v1/app/messages", person).json()["messages"] if m["id"] == message_id]
    return item


def sent_id(response):
    assert status_of(response) == 200, response.content
    return int(response.json()["response"]["id"])


def test_a_json_title_is_stored_and_is_the_inbox_items_title(send, valid_fields, bob):
    message_id = sent_id(send({**valid_fields, "title": "Backup failed"}))
    assert Message.objects.get(pk=message_id).title == "Backup failed"
    item = inbox_item(bob, message_id)
    assert (item["title"], item["message"], item["channel"]["name"]) == ("Backup failed", "Door bell", "Alice's alarms")


def test_a_form_title_is_stored(send, valid_fields):
    message_id = sent_id(send({**valid_fields, "title": "Über & out"}, form=True))
    assert Message.objects.get(pk=message_id).title == "Über & out"


def test_a_multipart_title_is_stored(client, valid_fields):
    response = client.post("/v1/messages/send", {**valid_fields, "title": "From a form"})  # multipart/form-data
    assert Message.objects.get(pk=sent_id(response)).title == "From a form"


def test_without_a_title_the_inbox_items_title_is_null(send, valid_fields, bob):
    message_id = sent_id(send(valid_fields))
    assert inbox_item(bob, message_id)["title"] is None
    assert sent_id(send({**valid_fields, "title": ""})) > message_id  # empty is absent


def test_it_accepts_250_characters(send, valid_fields):
    assert status_of(send({**valid_fields, "title": "x" * 250})) == 200


@pytest.mark.parametrize(
    "title, problem",
    [("x" * 251, "at most 250"), ("two\nlines", "one line"), ("cr\rhere", "one line"), ("ls\u2028x", "one line"),
     (12, "must be a string"), ("nul\x00", "NUL")],
)
def test_it_refuses_anything_but_one_line_of_250_characters(send, valid_fields, title, problem):
    response = send({**valid_fields, "title": title})
    assert status_of(response) == 4005 and response.status_code == 400
    assert problem in response.json()["response"]["message"]
    assert not Message.objects.exists()


def test_an_idempotent_repeat_with_another_title_is_4009(send, valid_fields):
    assert status_of(send({**valid_fields, "title": "A"}, HTTP_IDEMPOTENCY_KEY="k1")) == 200
    assert status_of(send({**valid_fields, "title": "A"}, HTTP_IDEMPOTENCY_KEY="k1")) == 200
    assert status_of(send({**valid_fields, "title": "B"}, HTTP_IDEMPOTENCY_KEY="k1")) == 4009


def test_the_push_carries_the_title_and_the_channel_name(send, valid_fields):
    message_id = sent_id(send({**valid_fields, "title": "Backup failed"}))
    push = render(Delivery.objects.select_related("message__channel", "device").get(message_id=message_id))
    assert (push.shown_title, push.title, push.body) == ("Backup failed", "Alice's alarms", "Door bell")


def test_deleting_the_message_forgets_its_title(send, valid_fields, bob):
    message_id = sent_id(send({**valid_fields, "title": "Secret"}))
    assert inbox_delete(user=bob.user, message_id=message_id)
    assert Message.objects.get(pk=message_id).title == ""


def test_the_send_schema_documents_the_title(client):
    document = json.loads(client.get("/v1/schema").content)
    for name in ("SendRequest", "SendRequestForm"):
        title = document["components"]["schemas"][name]["properties"]["title"]
        assert title["maxLength"] == 250 and "title" not in document["components"]["schemas"][name]["required"]
