"""The send on both backends: PostgreSQL's one statement (and its keyed and upload variants) against the
portable transaction of SQLite (messaging/send/service.py). Through the send API, as a sender calls it."""

import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from PIL import Image

from channels_app.models import Channel, ChannelDailyCount
from channels_app.services import channel_create, send_key_create
from messaging import bans
from messaging.send import request as send_request
from messaging.models import Delivery, Message
from messaging.send.service import message_send
from kilopush.errors import Blocked, Forbidden
from tests.helpers import fill_today, status_of
from users_app.models import AppUser, Device
from users_app.services import blacklist_add

pytestmark = pytest.mark.django_db

LIMIT = 5
KEYED = {"plain": {}, "keyed": {"HTTP_IDEMPOTENCY_KEY": "retry-1"}}  # PostgreSQL: two statements, one per path


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.CHANNEL_DAILY_LIMIT = LIMIT


def answer(response):
    return response.json()["response"]


def accepted_id(response):
    assert (response.status_code, status_of(response)) == (200, 200), response.content
    return int(answer(response)["id"])


def stored():
    """What the database holds after a send: messages, deliveries and today's counts."""
    return Message.objects.count(), Delivery.objects.count(), list(ChannelDailyCount.objects.values_list("count",
                                                                                                       flat=True))


def devices_of(person):
    """bob's Android device, plus one of every other kind: which of them a send queues a push for is the rule."""
    user = person.user
    return {
        "android": user.devices.get(),
        "ios": Device.objects.create(user=user, platform=Device.IOS, push_token="ab" * 32),
        "inactive": Device.objects.create(user=user, platform=Device.ANDROID, push_token="fcm-gone", is_active=False),
        "tokenless": Device.objects.create(user=user, platform=Device.ANDROID, push_token=""),
        "web_muted": Device.objects.create(user=user, platform=Device.WEB, push_token="https://push.example/muted",
                                           web_p256dh="p256dh", web_auth=""),
        "web": Device.objects.create(user=user, platform=Device.WEB, push_token="https://push.example/on",
                                     web_p256dh="p256dh", web_auth="auth"),
    }


# --- accepted ---


@pytest.mark.parametrize("path", KEYED)
def test_a_send_stores_its_message_and_one_queued_push_per_device_that_receives_pushes(send, valid_fields, bob,
                                                                                        channel, path):
    devices = devices_of(bob)
    before = timezone.now()
    message_id = accepted_id(send({**valid_fields, "title": "Front door", "url": "https://example.com/cam",
                                   "ttl": 600}, **KEYED[path]))
    message = Message.objects.get(pk=message_id)
    assert (message.recipient_id, message.channel_id, message.title, message.text, message.url) == (
        bob.user.pk, channel.pk, "Front door", "Door bell", "https://example.com/cam")
    assert (message.important, message.had_devices, message.removed_at, message.read_at) == (None, True, None, None)
    assert before <= message.created_at <= timezone.now()
    assert message.expires_at == message.created_at + timedelta(seconds=600)
    assert message.idempotency_key == ("retry-1" if path == "keyed" else None)
    rows = Delivery.objects.filter(message=message).order_by("device_id")
    assert [(d.device_id, d.kind, d.state, d.attempts, d.next_attempt_at, d.claimed_at, d.created_at)
            for d in rows] == [
        (devices[name].pk, Delivery.PUSH, Delivery.QUEUED, 0, None, None, message.created_at)
        for name in ("android", "ios", "web")]


@pytest.mark.parametrize("path", KEYED)
def test_a_silent_send_is_not_pushed_to_browsers(send, valid_fields, bob, path):
    devices = devices_of(bob)
    message_id = accepted_id(send({**valid_fields, "important": False}, **KEYED[path]))
    pushed = set(Delivery.objects.filter(message_id=message_id).values_list("device_id", flat=True))
    assert pushed == {devices["android"].pk, devices["ios"].pk}
    assert Message.objects.get(pk=message_id).important is False


@pytest.mark.parametrize("path", KEYED)
def test_a_recipient_without_a_device_gets_the_message_in_the_inbox_only(send, valid_fields, bob, path):
    Device.objects.filter(user=bob.user).update(is_active=False)
    message_id = accepted_id(send(valid_fields, **KEYED[path]))
    assert Message.objects.get(pk=message_id).had_devices is False
    assert not Delivery.objects.exists()


def test_the_emergency_fields_are_stored_as_sent(send, valid_fields):
    message_id = accepted_id(send({**valid_fields, "priority": 2, "retry": 60, "expire": 3600,
                                   "actions": [{"type": "view", "label": "Open", "url": "https://example.com"}]}))
    message = Message.objects.get(pk=message_id)
    assert (message.priority, message.emergency_retry) == (2, 60)
    assert message.emergency_until == message.created_at + timedelta(seconds=3600)
    assert message.emergency_next_at == message.created_at + timedelta(seconds=60)
    assert json.loads(message.actions) == [{"type": "view", "label": "Open", "url": "https://example.com"}]


# --- the daily limit ---


@pytest.mark.parametrize("path", KEYED)
def test_each_send_of_an_unverified_channel_takes_a_unit_and_answers_what_is_left(send, valid_fields, channel, path):
    first = send(valid_fields, **KEYED[path])
    second = send({**valid_fields, "message": "Again"}, **({"HTTP_IDEMPOTENCY_KEY": "retry-2"} if KEYED[path] else {}))
    accepted_id(first), accepted_id(second)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == (str(LIMIT), str(LIMIT - 1))
    assert second["X-RateLimit-Remaining"] == str(LIMIT - 2)
    assert int(first["X-RateLimit-Reset"]) % 86400 == 0  # the next UTC midnight
    assert ChannelDailyCount.objects.get(channel=channel).count == 2


@pytest.mark.parametrize("path", KEYED)
def test_the_last_unit_of_the_day_is_accepted(send, valid_fields, channel, path):
    fill_today(channel, LIMIT - 1)
    response = send(valid_fields, **KEYED[path])
    accepted_id(response)
    assert response["X-RateLimit-Remaining"] == "0"
    assert ChannelDailyCount.objects.get(channel=channel).count == LIMIT


@pytest.mark.parametrize("path", KEYED)
def test_a_send_past_the_daily_limit_is_4029_and_stores_nothing(send, valid_fields, channel, path):
    fill_today(channel, LIMIT)
    response = send(valid_fields, **KEYED[path])
    assert (response.status_code, status_of(response)) == (400, 4029)
    assert (response["X-RateLimit-Remaining"], response["X-RateLimit-Limit"]) == ("0", str(LIMIT))
    assert stored() == (0, 0, [LIMIT])


@pytest.mark.parametrize("path", KEYED)
def test_a_verified_channel_is_not_counted(send, valid_fields, channel, path):
    Channel.objects.filter(pk=channel.pk).update(is_verified=True)
    fill_today(channel, LIMIT)
    response = send(valid_fields, **KEYED[path])
    accepted_id(response)
    assert "X-RateLimit-Remaining" not in response
    assert ChannelDailyCount.objects.get(channel=channel).count == LIMIT


# --- idempotent repeats ---


def test_a_repeat_answers_the_first_id_and_stores_and_counts_nothing_more(send, valid_fields, channel):
    first = send(valid_fields, HTTP_IDEMPOTENCY_KEY="retry-1")
    second = send(valid_fields, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert accepted_id(first) == accepted_id(second)
    assert stored() == (1, 1, [1])
    assert second["X-RateLimit-Remaining"] == first["X-RateLimit-Remaining"] == str(LIMIT - 1)


def test_a_repeat_is_answered_even_when_the_limit_is_spent(send, valid_fields, channel):
    first_id = accepted_id(send(valid_fields, HTTP_IDEMPOTENCY_KEY="retry-1"))
    fill_today(channel, LIMIT)
    assert accepted_id(send(valid_fields, HTTP_IDEMPOTENCY_KEY="retry-1")) == first_id
    assert stored() == (1, 1, [LIMIT])


@pytest.mark.parametrize("change", [{"message": "Another text"}, {"url": "https://example.com/x"}, {"important": True},
                                    {"title": "Another title"}])
def test_the_same_key_with_another_message_is_4009_and_stores_nothing(send, valid_fields, change):
    accepted_id(send(valid_fields, HTTP_IDEMPOTENCY_KEY="reused"))
    response = send({**valid_fields, **change}, HTTP_IDEMPOTENCY_KEY="reused")
    assert (response.status_code, status_of(response)) == (400, 4009)
    assert stored() == (1, 1, [1])


def test_a_key_older_than_a_day_is_free_again(send, valid_fields):
    first_id = accepted_id(send(valid_fields, HTTP_IDEMPOTENCY_KEY="daily"))
    Message.objects.filter(pk=first_id).update(created_at=timezone.now() - timedelta(hours=25))
    second_id = accepted_id(send({**valid_fields, "message": "Another"}, HTTP_IDEMPOTENCY_KEY="daily"))
    assert second_id != first_id
    assert dict(Message.objects.values_list("id", "idempotency_key")) == {first_id: None, second_id: "daily"}


def test_a_key_belongs_to_one_channel(send, valid_fields, alice):
    other = channel_create(owner=alice.user, name="Other")
    first_id = accepted_id(send(valid_fields, HTTP_IDEMPOTENCY_KEY="shared"))
    second_id = accepted_id(send({**valid_fields, "token": other.token, "secret": other.secret},
                                 HTTP_IDEMPOTENCY_KEY="shared"))
    assert first_id != second_id


# --- refusals, in the published order; none stores or counts anything ---


def _wrong_secret(fields, **_):
    fields["secret"] = "s_" + "0" * 40


def _unknown_channel(fields, **_):
    fields["token"] = "c_" + "0" * 40


def _unknown_recipient(fields, **_):
    fields["to"] = "u_" + "0" * 40


def _channel_blocked(fields, channel, **_):
    Channel.objects.filter(pk=channel.pk).update(is_blocked=True)


def _owner_blocked(fields, alice, **_):
    AppUser.objects.filter(pk=alice.user.pk).update(is_blocked=True)


def _recipient_blocked(fields, bob, **_):
    AppUser.objects.filter(pk=bob.user.pk).update(is_blocked=True)


def _blacklisted(fields, bob, channel, **_):
    blacklist_add(user=bob.user, channel=channel)


def _banned(fields, **_):
    bans.ban("127.0.0.1", seconds=60)  # the test client's address


def _banned_and_blocked(fields, channel, **_):
    _banned(fields)
    _channel_blocked(fields, channel)  # the ban answers first


REFUSALS = {
    "wrong_secret": (_wrong_secret, 4003),
    "unknown_channel": (_unknown_channel, 4003),
    "unknown_recipient": (_unknown_recipient, 4005),
    "channel_blocked": (_channel_blocked, 4023),
    "owner_blocked": (_owner_blocked, 4023),
    "recipient_blocked": (_recipient_blocked, 4023),
    "blacklisted": (_blacklisted, 4024),
    "banned": (_banned, 4029),
    "banned_and_blocked": (_banned_and_blocked, 4029),
}


@pytest.mark.parametrize("path", KEYED)
@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refused_send_answers_its_code_and_stores_nothing(send, valid_fields, alice, bob, channel, refusal, path):
    arrange, code = REFUSALS[refusal]
    fields = dict(valid_fields)
    arrange(fields, alice=alice, bob=bob, channel=channel)
    response = send(fields, **KEYED[path])
    assert (response.status_code, status_of(response)) == (400, code)  # the send API's errors are all HTTP 400
    assert stored() == (0, 0, [])


def test_a_wrong_secret_is_refused_before_a_blocked_recipient(send, valid_fields, bob):
    AppUser.objects.filter(pk=bob.user.pk).update(is_blocked=True)
    response = send({**valid_fields, "secret": "s_" + "0" * 40})
    assert status_of(response) == 4003


def test_a_blocked_channel_is_refused_before_the_blacklist_and_the_limit(send, valid_fields, bob, channel):
    blacklist_add(user=bob.user, channel=channel)
    fill_today(channel, LIMIT)
    Channel.objects.filter(pk=channel.pk).update(is_blocked=True)
    assert status_of(send(valid_fields)) == 4023


def test_a_blacklisted_channel_is_refused_before_the_limit(send, valid_fields, bob, channel):
    blacklist_add(user=bob.user, channel=channel)
    fill_today(channel, LIMIT)
    assert status_of(send(valid_fields)) == 4024


# --- send keys (the hooks' and compatibility endpoints' send) ---


def _send_with_key(key, **fields):
    request = send_request.validate({"message": "Backup done", **fields}, key=key)
    message_id, headers = message_send(request=request)
    return message_id, headers


@pytest.mark.parametrize("idempotency_key", [None, "nightly"])
def test_a_send_key_sends_as_its_channel_to_its_recipient_and_marks_the_key_used(alice, bob, channel,
                                                                                 idempotency_key):
    send_key, key = send_key_create(channel=channel, recipient=bob.user)
    message_id, headers = _send_with_key(key, idempotency_key=idempotency_key)
    message = Message.objects.get(pk=message_id)
    assert (message.channel_id, message.recipient_id, message.text) == (channel.pk, bob.user.pk, "Backup done")
    assert Delivery.objects.filter(message=message).count() == 1
    assert headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
    send_key.refresh_from_db()
    assert send_key.last_used_at is not None


@pytest.mark.parametrize(("ago", "touched"), [(timedelta(seconds=30), False), (timedelta(minutes=2), True)])
def test_a_send_key_is_marked_used_at_most_once_a_minute(bob, channel, ago, touched):
    send_key, key = send_key_create(channel=channel, recipient=bob.user)
    earlier = timezone.now() - ago
    type(send_key).objects.filter(pk=send_key.pk).update(last_used_at=earlier)
    _send_with_key(key)
    send_key.refresh_from_db()
    assert (send_key.last_used_at != earlier) is touched


def test_an_unknown_send_key_is_4003(bob, channel):
    with pytest.raises(Forbidden):
        _send_with_key("k_" + "0" * 40)
    assert stored() == (0, 0, [])


def test_a_send_key_of_a_blocked_channel_is_4023(bob, channel):
    _, key = send_key_create(channel=channel, recipient=bob.user)
    Channel.objects.filter(pk=channel.pk).update(is_blocked=True)
    with pytest.raises(Blocked):
        _send_with_key(key)
    assert stored() == (0, 0, [])


# --- replace, withdraw and the status ---


def test_a_replacement_takes_the_first_messages_place_and_cancels_its_queued_push(send, valid_fields, channel):
    first_id = accepted_id(send(valid_fields))
    second_id = accepted_id(send({**valid_fields, "message": "Door bell (2)", "replace": first_id}))
    first, second = Message.objects.get(pk=first_id), Message.objects.get(pk=second_id)
    assert (first.removed_reason, second.collapse_id, second.removed_at) == (Message.REPLACED, str(first_id), None)
    assert first.removed_at is not None
    assert dict(Delivery.objects.values_list("message_id", "state")) == {first_id: Delivery.CANCELLED,
                                                                         second_id: Delivery.QUEUED}
    assert ChannelDailyCount.objects.get(channel=channel).count == 2


def test_a_replacement_of_another_channels_message_is_4005(send, valid_fields, alice):
    other = channel_create(owner=alice.user, name="Other")
    first_id = accepted_id(send({**valid_fields, "token": other.token, "secret": other.secret}))
    response = send({**valid_fields, "replace": first_id})
    assert status_of(response) == 4005
    assert Message.objects.count() == 1


def sender_call(client, channel, path, message_id):
    body = {"token": channel.token, "secret": channel.secret, "id": message_id}
    return client.generic("POST", f"/v1/messages/{path}", json.dumps(body), content_type="application/json")


def status(client, channel, message_id):
    response = sender_call(client, channel, "status", message_id)
    assert status_of(response) == 200, response.content
    return answer(response)["message"]


def test_a_new_message_is_queued_for_its_device(client, send, valid_fields, channel):
    message_id = accepted_id(send(valid_fields))
    assert (status(client, channel, message_id)["state"], status(client, channel, message_id)["devices"]) == (
        "queued", {"queued": 1, "pushed": 0, "failed": 0})


def test_a_withdrawn_message_is_withdrawn_and_its_queued_push_cancelled(client, send, valid_fields, channel):
    message_id = accepted_id(send(valid_fields))
    assert status_of(sender_call(client, channel, "withdraw", message_id)) == 200
    assert status_of(sender_call(client, channel, "withdraw", message_id)) == 200  # idempotent
    assert status(client, channel, message_id)["state"] == "withdrawn"
    assert list(Delivery.objects.values_list("kind", "state")) == [(Delivery.PUSH, Delivery.CANCELLED)]
    message = Message.objects.get(pk=message_id)
    assert (message.removed_reason, message.text) == (Message.WITHDRAWN, "Door bell")


def test_another_channel_cannot_withdraw_or_read_the_status(client, send, valid_fields, alice):
    message_id = accepted_id(send(valid_fields))
    other = channel_create(owner=alice.user, name="Other")
    assert status_of(sender_call(client, other, "withdraw", message_id)) == 4003
    assert status_of(sender_call(client, other, "status", message_id)) == 4003
    assert Message.objects.get(pk=message_id).removed_at is None


# --- an uploaded image (the attachment's bytes quota in the same transaction) ---


def _png():
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("path", KEYED)
def test_a_send_with_an_image_stores_it_with_the_message(client, valid_fields, settings, tmp_path, path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("door.png", _png(), "image/png")
    response = client.post("/v1/messages/send", {**valid_fields, "attachment": upload}, **KEYED[path])
    message = Message.objects.get(pk=accepted_id(response))
    assert (message.attachment_type, message.attachment_width, message.attachment_height) == ("image/png", 4, 3)
    assert (tmp_path / message.attachment_file).exists()
    assert stored() == (1, 1, [1])


def test_a_send_with_an_image_past_the_daily_limit_stores_no_file(client, valid_fields, channel, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    fill_today(channel, LIMIT)
    upload = SimpleUploadedFile("door.png", _png(), "image/png")
    response = client.post("/v1/messages/send", {**valid_fields, "attachment": upload})
    assert status_of(response) == 4029
    assert stored() == (0, 0, [LIMIT])
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# --- sends at the same moment: the limit and a key hold under concurrency ---


def _at_once(count, one):
    """Runs one(i) in `count` threads released together (each on its own connection); their answers' statuses."""
    start = threading.Barrier(count)
    codes = [None] * count

    def run(i):
        try:
            start.wait(10)
            codes[i] = one(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return codes


def _send_now(fields, **headers):
    response = Client().generic("POST", "/v1/messages/send", json.dumps(fields), content_type="application/json",
                                **headers)
    return status_of(response), answer(response).get("id")


def test_sends_at_the_same_moment_take_exactly_the_units_that_are_left(transactional_db, valid_fields, channel):
    fill_today(channel, LIMIT - 2)
    answers = _at_once(6, lambda i: _send_now({**valid_fields, "message": f"burst {i}"}))
    assert sorted(code for code, _ in answers) == [200, 200, 4029, 4029, 4029, 4029]
    assert stored() == (2, 2, [LIMIT])


def test_duplicates_at_the_same_moment_make_one_message(transactional_db, valid_fields):
    answers = _at_once(6, lambda i: _send_now(valid_fields, HTTP_IDEMPOTENCY_KEY="burst"))
    assert {code for code, _ in answers} == {200}
    assert len({message_id for _, message_id in answers}) == 1
    assert stored() == (1, 1, [1])
