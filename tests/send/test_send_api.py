"""POST /v1/messages/send: the published contract."""

import json

import pytest
from django.test import override_settings

from messaging.models import Delivery, Message
from tests.helpers import status_of
from users_app.models import Device


# --- accepted requests ---------------------------------------------------------------------------


def test_it_accepts_json(send, valid_fields, bob):
    response = send(valid_fields)
    assert response.status_code == 200
    body = response.json()
    assert body["response"]["status"] == 200
    message = Message.objects.get(pk=int(body["response"]["id"]))
    assert (message.recipient_id, message.text, message.important) == (bob.user.pk, "Door bell", None)


def test_it_accepts_json_with_charset(send, valid_fields):
    response = send(valid_fields, content_type="application/json; charset=UTF-8")
    assert status_of(response) == 200


def test_it_accepts_a_curl_form(send, valid_fields):
    response = send(valid_fields, form=True)
    assert status_of(response) == 200


def test_it_accepts_a_form_with_charset(send, valid_fields):
    response = send(valid_fields, form=True, content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert status_of(response) == 200


def test_it_accepts_a_multipart_form_like_curl_F(client, valid_fields):
    response = client.post("/v1/messages/send", valid_fields)  # the test client sends multipart/form-data
    assert status_of(response) == 200


def test_it_accepts_a_domoticz_raw_form_with_unencoded_spaces(send, valid_fields):
    raw = f"to={valid_fields['to']}&token={valid_fields['token']}&secret={valid_fields['secret']}&message=Door bell Front door"
    response = send(raw=raw, form=True)
    assert status_of(response) == 200
    assert Message.objects.get().text == "Door bell Front door"


def test_it_keeps_unicode_and_emoji(send, valid_fields):
    text = "Température 21 °C — 🚪🔔 日本語"
    response = send({**valid_fields, "message": text})
    assert status_of(response) == 200
    assert Message.objects.get().text == text


def test_it_keeps_form_encoded_emoji(send, valid_fields):
    response = send({**valid_fields, "message": "🔥 fire"}, form=True)
    assert status_of(response) == 200
    assert Message.objects.get().text == "🔥 fire"


def test_it_ignores_unknown_fields(send, valid_fields):
    response = send({**valid_fields, "title": "ignored", "device": "phone", "sound": "siren"})
    assert status_of(response) == 200


def test_it_accepts_1000_characters(send, valid_fields):
    assert status_of(send({**valid_fields, "message": "x" * 1000})) == 200


def test_it_counts_emoji_as_one_character(send, valid_fields):
    assert status_of(send({**valid_fields, "message": "🔔" * 1000})) == 200


def test_it_accepts_a_1000_character_url(send, valid_fields):
    url = "https://example.com/" + "a" * (1000 - len("https://example.com/"))
    response = send({**valid_fields, "url": url})
    assert status_of(response) == 200
    assert Message.objects.get().url == url


def test_it_treats_an_empty_url_as_absent(send, valid_fields):
    assert status_of(send({**valid_fields, "url": ""}, form=True)) == 200
    assert Message.objects.get().url == ""


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({}, None),
        ({"important": "1"}, True),
        ({"important": "0"}, False),
        ({"important": 1}, True),
        ({"important": 0}, False),
        ({"silent": "1"}, False),
        ({"silent": "0"}, None),
        ({"silent": 1, "important": 0}, False),
    ],
)
def test_it_stores_importance(send, valid_fields, fields, expected):
    assert status_of(send({**valid_fields, **fields})) == 200
    assert Message.objects.get().important is expected


def test_it_stores_importance_from_a_form(send, valid_fields):
    assert status_of(send({**valid_fields, "important": "1"}, form=True)) == 200
    assert Message.objects.get().important is True


def test_it_creates_a_delivery_per_active_device(send, valid_fields, bob):
    Device.objects.create(user=bob.user, platform="ios", push_token="cd" * 32)
    Device.objects.create(user=bob.user, platform="android", push_token="dead", is_active=False)
    Device.objects.create(user=bob.user, platform="web", push_token="")
    assert status_of(send(valid_fields)) == 200
    message = Message.objects.get()
    assert message.had_devices is True
    assert sorted(Delivery.objects.filter(message=message).values_list("device__platform", flat=True)) == ["android", "ios"]


def test_it_records_a_recipient_without_active_devices(send, valid_fields, bob):
    Device.objects.filter(user=bob.user).update(is_active=False)
    assert status_of(send(valid_fields)) == 200
    message = Message.objects.get()
    assert message.had_devices is False
    assert not Delivery.objects.exists()


# --- 4000 ----------------------------------------------------------------------------------------


def test_it_rejects_a_missing_content_type(client, valid_fields):
    response = client.generic("POST", "/v1/messages/send", json.dumps(valid_fields), content_type="")
    assert response.status_code == 400
    assert status_of(response) == 4000


def test_it_rejects_text_plain(send, valid_fields):
    assert status_of(send(valid_fields, content_type="text/plain")) == 4000


def test_a_wrong_content_type_names_every_accepted_type(send, valid_fields):
    message = send(valid_fields, content_type="text/plain").json()["response"]["message"]
    for accepted in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        assert accepted in message, message


@pytest.mark.django_db  # a refused body still checks the client's ban (messaging/bans.py)
def test_it_rejects_malformed_json(send):
    response = send(raw='{"to": "u_', content_type="application/json")
    assert response.status_code == 400
    assert status_of(response) == 4000


def test_it_rejects_invalid_utf8_json(send, valid_fields):
    raw = json.dumps(valid_fields).encode().replace(b"Door", b"\xff\xfe")
    assert status_of(send(raw=raw, content_type="application/json")) == 4000


def test_it_rejects_invalid_utf8_in_a_form(send, valid_fields):
    raw = f"to={valid_fields['to']}&token={valid_fields['token']}&secret={valid_fields['secret']}&message=%FF%FE"
    assert status_of(send(raw=raw, form=True)) == 4000


@pytest.mark.django_db  # a refused body still checks the client's ban (messaging/bans.py)
def test_it_rejects_raw_invalid_utf8_bytes_in_a_form(send):
    assert status_of(send(raw=b"message=\xff", form=True)) == 4000


def test_it_rejects_an_unknown_charset(send, valid_fields):
    assert status_of(send(valid_fields, content_type="application/json; charset=klingon")) == 4000


def test_it_rejects_a_body_over_64_kb(send, valid_fields):
    response = send({**valid_fields, "padding": "x" * 70000})
    assert response.status_code == 400
    assert status_of(response) == 4000
    assert not Message.objects.exists()


def test_it_answers_405_in_the_envelope_to_get(client, db):
    response = client.get("/v1/messages/send")
    assert response.status_code == 405
    assert status_of(response) == 4005


# --- 4005 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["to", "token", "secret", "message"])
def test_it_rejects_a_missing_field(send, valid_fields, field):
    del valid_fields[field]
    response = send(valid_fields)
    assert status_of(response) == 4005
    assert field in response.json()["response"]["message"]


@pytest.mark.parametrize("field", ["to", "token", "secret", "message"])
def test_it_rejects_an_empty_field(send, valid_fields, field):
    assert status_of(send({**valid_fields, field: ""}, form=True)) == 4005


@pytest.mark.parametrize("value", [42, None, ["a"], {"a": 1}, True])
def test_it_rejects_a_message_of_the_wrong_type(send, valid_fields, value):
    assert status_of(send({**valid_fields, "message": value})) == 4005


@pytest.mark.parametrize("field", ["to", "token", "secret", "message", "url"])
def test_it_rejects_a_nul_character(send, valid_fields, field):
    value = "https://example.com/\x00" if field == "url" else valid_fields[field] + "\x00"
    assert status_of(send({**valid_fields, field: value})) == 4005


def test_it_rejects_1001_characters(send, valid_fields):
    response = send({**valid_fields, "message": "x" * 1001})
    assert status_of(response) == 4005
    assert not Message.objects.exists()


def test_it_rejects_a_1001_character_url(send, valid_fields):
    url = "https://example.com/" + "a" * (1001 - len("https://example.com/"))
    assert status_of(send({**valid_fields, "url": url})) == 4005


@pytest.mark.parametrize("url", ["ftp://example.com/x", "javascript:alert(1)", "example.com", "https://", "http://exa mple.com"])
def test_it_rejects_a_url_that_is_not_http(send, valid_fields, url):
    assert status_of(send({**valid_fields, "url": url})) == 4005


@pytest.mark.parametrize("value", ["2", "yes", -1, 2, 0.5, "true"])
def test_it_rejects_important_other_than_0_or_1(send, valid_fields, value):
    assert status_of(send({**valid_fields, "important": value})) == 4005


def test_it_rejects_important_and_silent_together(send, valid_fields):
    assert status_of(send({**valid_fields, "important": "1", "silent": "1"})) == 4005


def test_it_rejects_an_unknown_recipient(send, valid_fields):
    response = send({**valid_fields, "to": "u_" + "0" * 40})
    assert status_of(response) == 4005
    assert "recipient" in response.json()["response"]["message"].lower()


@pytest.mark.django_db  # a refused body still checks the client's ban (messaging/bans.py)
@pytest.mark.parametrize("raw", ["[]", '"text"', "42", "null"])
def test_it_rejects_a_json_body_that_is_not_an_object(send, raw):
    assert status_of(send(raw=raw, content_type="application/json")) == 4005


# --- 4003 ----------------------------------------------------------------------------------------


def test_it_rejects_an_unknown_channel_token(send, valid_fields):
    response = send({**valid_fields, "token": "c_" + "0" * 40})
    assert response.status_code == 400
    assert status_of(response) == 4003


def test_it_rejects_a_wrong_secret(send, valid_fields):
    assert status_of(send({**valid_fields, "secret": "0" * 64})) == 4003


def test_it_answers_unknown_token_and_wrong_secret_identically(send, valid_fields):
    unknown = send({**valid_fields, "token": "c_" + "0" * 40})
    wrong = send({**valid_fields, "secret": "0" * 64})
    assert unknown.content == wrong.content
    assert unknown.status_code == wrong.status_code


def test_it_rejects_a_rotated_secret(send, valid_fields, channel):
    from channels_app.services import channel_rotate_secret

    old = valid_fields["secret"]
    new = channel_rotate_secret(channel=channel)
    assert status_of(send({**valid_fields, "secret": old})) == 4003
    assert status_of(send({**valid_fields, "secret": new})) == 200


def test_it_rejects_a_secret_changed_through_the_model(send, valid_fields, channel):
    channel.secret = "f" * 64
    channel.save()
    assert status_of(send(valid_fields)) == 4003
    assert status_of(send({**valid_fields, "secret": "f" * 64})) == 200


def test_it_rejects_the_channel_of_a_deleted_user(send, valid_fields, alice):
    alice.user.delete()
    assert status_of(send(valid_fields)) == 4003


# --- 4023 / 4024 ---------------------------------------------------------------------------------


def test_it_rejects_a_blocked_channel(send, valid_fields, channel):
    channel.is_blocked = True
    channel.save()
    assert status_of(send(valid_fields)) == 4023


def test_it_rejects_a_blocked_recipient(send, valid_fields, bob):
    bob.user.is_blocked = True
    bob.user.save()
    assert status_of(send(valid_fields)) == 4023


def test_it_rejects_the_channel_of_a_blocked_owner(send, valid_fields, alice):
    alice.user.is_blocked = True
    alice.user.save()
    assert status_of(send(valid_fields)) == 4023


def test_it_sends_again_after_unblock(send, valid_fields, channel):
    from channels_app.services import channel_set_blocked

    channel_set_blocked(channel=channel, blocked=True)
    assert status_of(send(valid_fields)) == 4023
    channel_set_blocked(channel=channel, blocked=False)
    assert status_of(send(valid_fields)) == 200


def test_it_rejects_a_blacklisted_channel(send, valid_fields, bob, channel):
    from users_app.services import blacklist_add

    blacklist_add(user=bob.user, channel=channel)
    response = send(valid_fields)
    assert status_of(response) == 4024
    assert not Message.objects.exists()


def test_a_blacklist_is_per_recipient(send, valid_fields, charlie, channel):
    from users_app.services import blacklist_add

    blacklist_add(user=charlie.user, channel=channel)
    assert status_of(send(valid_fields)) == 200


# --- precedence ----------------------------------------------------------------------------------


@pytest.mark.django_db  # a refused body still checks the client's ban (messaging/bans.py)
def test_4000_comes_before_4005(send):
    assert status_of(send(raw="{not json", content_type="application/json")) == 4000


def test_shape_4005_comes_before_4003(send, valid_fields):
    assert status_of(send({**valid_fields, "secret": "wrong", "message": ""})) == 4005


def test_4003_comes_before_unknown_recipient(send, valid_fields):
    assert status_of(send({**valid_fields, "secret": "wrong", "to": "u_nobody"})) == 4003


def test_4003_comes_before_4023(send, valid_fields, channel):
    channel.is_blocked = True
    channel.save()
    assert status_of(send({**valid_fields, "secret": "wrong"})) == 4003


def test_4023_comes_before_4024(send, valid_fields, bob, channel):
    from users_app.services import blacklist_add

    blacklist_add(user=bob.user, channel=channel)
    channel.is_blocked = True
    channel.save()
    assert status_of(send(valid_fields)) == 4023


@override_settings(CHANNEL_DAILY_LIMIT=1)
def test_4024_comes_before_4029(send, valid_fields, bob, channel):
    from users_app.services import blacklist_add

    assert status_of(send(valid_fields)) == 200
    blacklist_add(user=bob.user, channel=channel)
    assert status_of(send(valid_fields)) == 4024


# --- 500 -----------------------------------------------------------------------------------------


def test_an_unexpected_failure_answers_the_500_envelope(send, valid_fields, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("messaging.send.views.message_send", explode)
    response = send(valid_fields)
    assert response.status_code == 500
    assert response.json() == {"response": {"status": 500, "message": "Internal server error"}}


def test_an_unknown_api_path_answers_in_the_envelope(client, db):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert status_of(response) == 4004


def test_a_disallowed_host_answers_in_the_envelope(client, db):
    response = client.post("/v1/messages/send", {}, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert status_of(response) == 4000


def test_a_huge_declared_body_is_refused_before_it_is_read(client, db):
    # The declared length alone decides: the server must not wait for 10 MB that never come.
    response = client.generic(
        "POST", "/v1/messages/send", b"{}", content_type="application/json", CONTENT_LENGTH=str(10 * 1024 * 1024)
    )
    assert response.status_code == 400
    assert status_of(response) == 4000


def test_a_huge_multipart_send_is_refused(client, db):
    response = client.generic(
        "POST", "/v1/messages/send", b"", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(1024 * 1024)
    )
    assert status_of(response) == 4000
