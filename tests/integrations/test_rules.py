"""Every rule of the send API holds on every compatibility path (hook, Gotify, ntfy, ntfy's JSON)."""

import json

import pytest
from django.test import Client, override_settings

from channels_app.services import channel_set_blocked, send_key_revoke
from channels_app.models import SendKey
from messaging import bans
from messaging.models import Message
from messaging import wake
from tests.helpers import fill_today, status_of
from tests.integrations.support import inbox, new_key
from users_app.services import blacklist_add

pytestmark = pytest.mark.django_db


def test_it_sends_with_its_title_to_the_keys_recipient_only(protocol, client, key, alice, bob):
    message_id = protocol.message_id(protocol.send(client, key, "Backup done at 03:00", title="Nightly backup"))
    [item] = inbox(bob)
    assert (item["id"], item["message"], item["title"]) == (message_id, "Backup done at 03:00", "Nightly backup")
    assert item["channel"]["name"] == "Alice's alarms"
    assert inbox(alice) == []


def test_a_key_for_another_recipient_sends_to_that_recipient(protocol, client, channel, alice, bob):
    protocol.message_id(protocol.send(client, new_key(channel, alice)))
    assert [item["title"] for item in inbox(alice)] == ["Nightly"]
    assert inbox(bob) == []


def test_a_blacklisted_channel_is_refused(protocol, client, key, channel, bob):
    blacklist_add(user=bob.user, channel=channel)
    assert protocol.refused(protocol.send(client, key)) == protocol.expected(4024)
    assert not Message.objects.exists()


def test_a_staff_blocked_channel_is_refused(protocol, client, key, channel):
    channel_set_blocked(channel=channel, blocked=True)
    assert protocol.refused(protocol.send(client, key)) == protocol.expected(4023)
    assert not Message.objects.exists()


def test_a_banned_client_is_refused_with_retry_after(protocol, client, key):
    bans.ban("127.0.0.1", seconds=30)
    response = protocol.send(client, key)
    assert protocol.refused(response) == protocol.expected(4029)
    assert 1 <= int(response["Retry-After"]) <= 30
    assert not Message.objects.exists()


def test_a_banned_client_is_refused_before_a_malformed_body(protocol, client, key):
    bans.ban("127.0.0.1", seconds=30)
    response = protocol.send_raw(client, key, b"{not json", "application/json")
    assert protocol.refused(response) == protocol.expected(4029)


def test_over_the_daily_limit_is_refused_with_retry_after(protocol, client, key, channel):
    fill_today(channel, 300)
    response = protocol.send(client, key)
    assert protocol.refused(response) == protocol.expected(4029)
    assert response["X-RateLimit-Remaining"] == "0"
    if protocol.name != "hook":  # the hook answers like the send API: X-RateLimit-Reset says when
        assert int(response["Retry-After"]) >= 1
    assert not Message.objects.exists()


def test_a_revoked_key_is_refused(protocol, client, key, channel):
    [send_key] = SendKey.objects.all()
    assert send_key_revoke(channel=channel, key_id=send_key.pk)
    assert protocol.refused(protocol.send(client, key)) == protocol.expected(4003)
    assert not Message.objects.exists()


def test_a_wrong_key_is_refused(protocol, client, key):
    wrong = "k_" + "0" * 40
    assert protocol.refused(protocol.send(client, wrong)) == protocol.expected(4003)
    assert not Message.objects.exists()


@override_settings(SEND_AUTH_FAILURE_RATE="3/m")
def test_wrong_keys_count_as_failed_attempts_and_ban_the_client(protocol, client, key):
    for _ in range(3):
        protocol.send(client, "k_" + "1" * 40)
    assert protocol.refused(protocol.send(client, key)) == protocol.expected(4029)


def test_a_2000_character_body_is_shortened_to_1000(protocol, client, key, bob):
    message_id = protocol.message_id(protocol.send(client, key, "x" * 2000, title="t" * 400))
    message = Message.objects.get(pk=message_id)
    assert message.text == "x" * 999 + "…"
    assert message.title == "t" * 249 + "…"


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"message": 5, "title": ["x"], "priority": "loud", "tags": 7, "click": 1, "extras": 3}', "application/json"),
    (b'{"message": "a", "title": "b", "message": "c"}', "application/json"),
    (b"\xff\xfe\x00binary\x80\x81", "application/octet-stream"),
    (b"\xff\xfe\x00binary\x80\x81", "application/json"),
    (b"message=%ff%fe", "application/x-www-form-urlencoded"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    (b'{"message": "a\\u0000b"}', "application/json"),
    (b'{"message": "\\ud800"}', "application/json"),
    (b"[" * 60_000, "application/json"),
])
def test_a_malformed_body_is_an_error_in_the_protocols_shape_never_a_500(protocol, client, key, body, content_type):
    response = protocol.send_raw(client, key, body, content_type)
    assert response.status_code < 500
    if response.status_code != 200:  # the hook and ntfy take some of these as the message itself
        assert protocol.refused(response)[0] == 400


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(protocol, client, key, settings):
    response = protocol.send_raw(client, key, b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "text/plain")
    assert response.status_code in (400, 413)
    assert not Message.objects.exists()


def test_status_and_withdraw_see_the_message_with_the_channels_token_and_secret(protocol, client, key, channel, bob):
    message_id = protocol.message_id(protocol.send(client, key))
    credentials = {"token": channel.token, "secret": channel.secret, "id": str(message_id)}
    status = Client().post("/v1/messages/status", json.dumps(credentials), content_type="application/json")
    assert status_of(status) == 200 and status.json()["response"]["message"]["id"] == str(message_id)
    withdrawn = Client().post("/v1/messages/withdraw", json.dumps(credentials), content_type="application/json")
    assert status_of(withdrawn) == 200
    assert inbox(bob) == []


def test_a_sent_message_wakes_the_recipients_stream(protocol, client, key, bob, django_capture_on_commit_callbacks):
    pubsub = wake.redis_client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wake.channel_name())
    try:
        with django_capture_on_commit_callbacks(execute=True):
            protocol.message_id(protocol.send(client, key))
        woken = [pubsub.get_message(timeout=2) for _ in range(3)]
    finally:
        pubsub.close()
    payloads = [wake.parse(message["data"]) for message in woken if message]
    assert (wake.MESSAGE, bob.user.pk) in payloads
