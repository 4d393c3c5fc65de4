import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app.services import channel_create
from messaging.models import Delivery, Message
from tests.admin_support import changelist_url

URL = changelist_url("messaging", "message")


def listed(response):
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.fixture
def message(send, valid_fields):
    response = send({**valid_fields, "message": "Door bell rang twice"})
    return Message.objects.get(pk=int(response.json()["response"]["id"]))


@pytest.fixture
def other_message(alice, charlie):
    channel = channel_create(owner=charlie.user, name="Charlie's chimes")
    return Message.objects.create(recipient=alice.user, channel=channel, text="Parcel arrived", important=True)


def test_it_redirects_an_anonymous_visitor_to_the_login_page(client, message):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_search_finds_a_message_by_text(admin_client, message, other_message):
    assert listed(admin_client.get(URL, {"q": "rang twice"})) == [message]


def test_search_finds_a_message_by_recipient_token(admin_client, message, other_message, bob):
    assert listed(admin_client.get(URL, {"q": bob.token})) == [message]


def test_search_finds_a_message_by_channel_token(admin_client, message, other_message, channel):
    assert listed(admin_client.get(URL, {"q": channel.token})) == [message]


def test_channel_filter_lists_the_messages_of_one_channel(admin_client, message, other_message):
    response = admin_client.get(URL, {"channel_token": other_message.channel.token})
    assert listed(response) == [other_message]
    assert f'value="{other_message.channel.token}"' in response.content.decode()


def test_important_filter_lists_important_messages(admin_client, message, other_message):
    assert listed(admin_client.get(URL, {"important": "1"})) == [other_message]


def test_important_filter_lists_normal_messages(admin_client, message, other_message):
    assert listed(admin_client.get(URL, {"important": "normal"})) == [message]


def test_delivery_state_filter_lists_messages_with_a_delivery_in_that_state(admin_client, message, other_message):
    Delivery.objects.filter(message=message).update(state=Delivery.INVALID_TOKEN)
    assert listed(admin_client.get(URL, {"delivery_state": Delivery.INVALID_TOKEN})) == [message]
    assert listed(admin_client.get(URL, {"delivery_state": Delivery.ACCEPTED})) == []


def test_delivery_state_filter_lists_inbox_only_messages(admin_client, message, other_message):
    assert listed(admin_client.get(URL, {"delivery_state": "none"})) == [other_message]


def test_date_filter_lists_messages_of_the_period(admin_client, message, other_message):
    Message.objects.filter(pk=other_message.pk).update(created_at=timezone.now() - datetime.timedelta(days=40))
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    params = {"created_at__gte": str(today), "created_at__lt": str(today + datetime.timedelta(days=1))}
    assert listed(admin_client.get(URL, params)) == [message]


def test_change_page_shows_each_delivery_attempt(admin_client, message):
    Delivery.objects.filter(message=message).update(
        state=Delivery.REJECTED, attempts=3, provider_message_id="projects/kp/messages/0:123", last_error="INVALID_ARGUMENT"
    )
    body = re.sub(r">\s+<", "><", admin_client.get(f"{URL}{message.pk}/change/").content.decode())
    for text in ("Android device", "rejected", '<td class="field-attempts"><p>3</p></td>', "projects/kp/messages/0:123", "INVALID_ARGUMENT"):
        assert text in body


def test_messages_cannot_be_added(admin_client, message):
    assert admin_client.get(URL + "add/").status_code == 403


def test_messages_cannot_be_changed(admin_client, message):
    response = admin_client.post(f"{URL}{message.pk}/change/", {"text": "edited"})
    assert response.status_code == 403
    assert Message.objects.get(pk=message.pk).text == "Door bell rang twice"


def test_message_log_offers_no_actions(admin_client, message):
    response = admin_client.get(URL)
    assert response.context["action_form"] is None


def test_changelist_queries_do_not_grow_with_rows(admin_client, message, send, valid_fields):
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(URL)
    for _ in range(4):
        send(valid_fields)
    with CaptureQueriesContext(connection) as five_rows:
        admin_client.get(URL)
    assert len(five_rows) == len(one_row)


def test_a_messages_page_is_titled_by_its_channel_and_text(admin_client, message):
    body = admin_client.get(f"{URL}{message.pk}/change/").content.decode()
    assert "<h2>Alice&#x27;s alarms: Door bell rang twice</h2>" in body
    assert "<title>Alice&#x27;s alarms: Door bell rang twice |" in body
    assert f"#{message.pk} to {message.recipient_id}" not in body


def test_a_long_text_is_cut_in_the_title(alice, channel):
    message = Message.objects.create(recipient=alice.user, channel=channel, text="x" * 100)
    assert str(message) == "Alice's alarms: " + "x" * 59 + "…"


@pytest.mark.parametrize("important, words", [(None, "normal"), (True, "important"), (False, "silent")])
def test_a_messages_page_shows_its_priority_in_words(admin_client, alice, channel, important, words):
    message = Message.objects.create(recipient=alice.user, channel=channel, text="t", important=important)
    body = re.sub(r">\s+<", "><", admin_client.get(f"{URL}{message.pk}/change/").content.decode())
    assert f'<label>Priority:</label><div class="readonly">{words}</div>' in body
    assert "icon-unknown" not in body and "Important:" not in body
