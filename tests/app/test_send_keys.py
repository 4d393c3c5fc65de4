"""Send keys (/v1/app/channels/TOKEN/keys): one string that sends as its channel to one recipient."""

import re

import pytest
from django.test import Client

from channels_app.models import SendKey
from channels_app.services import channel_set_blocked
from kilopush.errors import Blacklisted, Blocked, Forbidden, InvalidValue
from messaging.send import request as send_request
from messaging.models import Message
from messaging.send.service import message_send
from tests.app_api import call
from tests.helpers import fill_today, status_of
from users_app.services import app_user_set_blocked, blacklist_add

pytestmark = pytest.mark.django_db


def keys_path(channel):
    return f"/v1/app/channels/{channel.token}/keys"


def create_key(alice, channel, body=None):
    return call(Client(), "POST", keys_path(channel), alice, body or {})


def send_with(key, idempotency_key=None, **fields):
    data = {"message": "Backup done", **fields}
    request = send_request.validate(data, key=key, idempotency_header=idempotency_key)
    message_id, _headers = message_send(request=request)
    return Message.objects.get(pk=message_id)


def test_a_key_sends_to_its_owner_by_default(alice, channel):
    response = create_key(alice, channel, {"label": "cron"})
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"k_[0-9a-f]{40}", body["key"])
    assert (body["to"], body["label"]) == (alice.token, "cron")
    message = send_with(body["key"], title="Nightly")
    assert (message.channel_id, message.recipient_id, message.title) == (channel.pk, alice.user.pk, "Nightly")


def test_a_key_for_another_recipient_sends_to_them_only(alice, bob, channel):
    key = create_key(alice, channel, {"to": bob.token}).json()["key"]
    assert send_with(key).recipient_id == bob.user.pk


def test_an_unknown_recipient_is_4005(alice, channel):
    response = create_key(alice, channel, {"to": "u_" + "0" * 40})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not SendKey.objects.exists()


def test_the_key_is_stored_only_as_a_digest_and_never_listed(alice, channel):
    key = create_key(alice, channel).json()["key"]
    assert not SendKey.objects.filter(digest=key).exists()
    listed = call(Client(), "GET", keys_path(channel), alice)
    assert listed.status_code == 200
    assert key not in listed.content.decode()
    [row] = listed.json()["keys"]
    assert (row["to"], row["last_used_at"]) == (alice.token, None)


def test_a_send_marks_the_key_used(alice, channel):
    key = create_key(alice, channel).json()["key"]
    send_with(key)
    [row] = call(Client(), "GET", keys_path(channel), alice).json()["keys"]
    assert row["last_used_at"] is not None


def test_a_revoked_key_is_dead_at_once(alice, channel):
    body = create_key(alice, channel).json()
    response = call(Client(), "DELETE", f"{keys_path(channel)}/{body['id']}", alice)
    assert response.status_code == 204
    with pytest.raises(Forbidden):
        send_with(body["key"])
    assert call(Client(), "DELETE", f"{keys_path(channel)}/{body['id']}", alice).status_code == 404


def test_a_wrong_key_is_4003(alice, channel):
    create_key(alice, channel)
    with pytest.raises(Forbidden):
        send_with("k_" + "0" * 40)


def test_another_accounts_channel_answers_404(alice, charlie, channel):
    body = create_key(alice, channel).json()
    for method, path, payload in (("GET", keys_path(channel), None), ("POST", keys_path(channel), {}),
                                  ("DELETE", f"{keys_path(channel)}/{body['id']}", None)):
        response = call(Client(), method, path, charlie, payload)
        assert (response.status_code, status_of(response)) == (404, 4004)
    assert SendKey.objects.count() == 1


def test_keys_per_channel_are_capped(alice, channel, settings):
    settings.SEND_KEYS_PER_CHANNEL = 2
    assert create_key(alice, channel).status_code == 201
    assert create_key(alice, channel).status_code == 201
    response = create_key(alice, channel)
    assert (response.status_code, status_of(response)) == (403, 4003)
    assert SendKey.objects.count() == 2


def test_key_creation_is_throttled_per_address(alice, channel, settings):
    settings.APP_KEY_CREATE_RATE = "2/h"
    assert [create_key(alice, channel).status_code for _ in range(3)] == [201, 201, 429]


@pytest.mark.parametrize("body", [{"to": 5}, {"label": "x" * 65}, {"to": None}, {"label": "two\nlines"}])
def test_a_malformed_body_is_4005(alice, channel, body):
    response = create_key(alice, channel, body)
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_a_key_sends_under_the_send_apis_rules(alice, bob, channel):
    key = create_key(alice, channel, {"to": bob.token}).json()["key"]
    blacklist_add(user=bob.user, channel=channel)
    with pytest.raises(Blacklisted):
        send_with(key)


def test_a_key_of_a_blocked_channel_is_4023(alice, channel):
    key = create_key(alice, channel).json()["key"]
    channel_set_blocked(channel=channel, blocked=True)
    with pytest.raises(Blocked):
        send_with(key)


def test_a_key_to_a_blocked_recipient_is_4023(alice, bob, channel):
    key = create_key(alice, channel, {"to": bob.token}).json()["key"]
    app_user_set_blocked(user=bob.user, blocked=True)
    with pytest.raises(Blocked):
        send_with(key)


def test_a_key_counts_against_the_daily_limit(alice, channel):
    key = create_key(alice, channel).json()["key"]
    fill_today(channel, 300)
    with pytest.raises(Exception) as refused:
        send_with(key)
    assert refused.value.status == 4029


def test_a_key_with_an_idempotency_key_repeats_the_first_send(alice, channel):
    key = create_key(alice, channel).json()["key"]
    first = send_with(key, idempotency_key="once")
    assert send_with(key, idempotency_key="once").pk == first.pk
    assert Message.objects.count() == 1


def test_the_key_needs_no_credentials_but_checks_the_rest(alice, channel):
    key = create_key(alice, channel).json()["key"]
    with pytest.raises(InvalidValue):
        send_with(key, title="two\nlines")
    with pytest.raises(InvalidValue):
        send_request.validate({}, key=key)
