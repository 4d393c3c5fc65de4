"""Registration, the account (GET/DELETE /v1/app/me), the device and the access token."""

import pytest

from channels_app.models import Channel
from channels_app.services import channel_create
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.helpers import status_of
from users_app.models import AppUser, BlacklistEntry, Device
from users_app.services import blacklist_add

pytestmark = pytest.mark.django_db


def register(client, body, **extra):
    return call(client, "POST", "/v1/app/register", body=body, **extra)


def test_it_registers_an_android_install(client):
    response = register(client, {"platform": "android", "push_token": "fcm-1", "app_version": "1.2", "locale": "de"})
    assert response.status_code == 201
    body = response.json()
    user = AppUser.objects.get(token=body["user_token"])
    assert body["user_token"].startswith("u_")
    device = user.devices.get()
    assert (device.platform, device.push_token, device.app_version, device.locale) == ("android", "fcm-1", "1.2", "de")


def test_the_returned_access_token_works(client):
    body = register(client, {"platform": "ios", "push_token": "ab" * 32, "sandbox": True}).json()
    response = call(client, "GET", "/v1/app/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == 200
    assert response.json()["user_token"] == body["user_token"]
    assert AppUser.objects.get(token=body["user_token"]).devices.get().sandbox is True


def test_it_registers_web_without_a_push_token(client):
    assert register(client, {"platform": "web"}).status_code == 201


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_it_requires_a_push_token_for_phones(client, platform):
    response = register(client, {"platform": platform})
    assert response.status_code == 400
    assert status_of(response) == 4005
    assert "push_token" in response.json()["response"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"platform": "windows", "push_token": "x"},
        {"platform": 1, "push_token": "x"},
        {"platform": "android", "push_token": 12345},
        {"platform": "android", "push_token": "x", "sandbox": "yes"},
        {"platform": "android", "push_token": "x" * 4097},
        {"platform": "android", "push_token": "x", "locale": "x" * 36},
        {"platform": "android", "push_token": "bad\u0000token"},
    ],
)
def test_it_refuses_invalid_registrations_with_4005(client, body):
    response = register(client, body)
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not AppUser.objects.exists()


def test_it_throttles_registrations_per_client_address(client, settings):
    settings.APP_REGISTER_RATE = "2/h"
    for _ in range(2):
        assert register(client, {"platform": "web"}).status_code == 201
    response = register(client, {"platform": "web"})
    assert (response.status_code, status_of(response)) == (429, 4029)
    assert int(response["Retry-After"]) >= 1
    assert AppUser.objects.count() == 2


def test_the_registration_throttle_counts_each_address_apart(client, settings):
    settings.APP_REGISTER_RATE = "1/h"
    assert register(client, {"platform": "web"}, REMOTE_ADDR="10.0.0.1").status_code == 201
    assert register(client, {"platform": "web"}, REMOTE_ADDR="10.0.0.2").status_code == 201
    assert register(client, {"platform": "web"}, REMOTE_ADDR="10.0.0.1").status_code == 429


def test_me_shows_channel_count_and_unread(client, alice, bob, channel, send, valid_fields):
    channel_create(owner=bob.user, name="Bob's")
    send(valid_fields)
    send(valid_fields)
    body = call(client, "GET", "/v1/app/me", bob).json()
    assert body["user_token"] == bob.token
    assert (body["channels"], body["unread"]) == (1, 2)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "Bearer a_not-a-real-token", "Token a_x"],
)
def test_me_refuses_a_missing_or_invalid_credential_with_4001(client, alice, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = call(client, "GET", "/v1/app/me", **extra)
    assert (response.status_code, status_of(response)) == (401, 4001)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_user_token_is_not_a_credential(client, alice):
    response = call(client, "GET", "/v1/app/me", HTTP_AUTHORIZATION=f"Bearer {alice.token}")
    assert response.status_code == 401


def test_delete_me_removes_the_user_and_everything_of_theirs(client, alice, bob, channel, send, valid_fields):
    blacklist_add(user=alice.user, channel=channel)
    blacklist_add(user=bob.user, channel=channel)
    bobs_channel = channel_create(owner=bob.user, name="Bob's")
    send({"to": alice.token, "token": bobs_channel.token, "secret": bobs_channel.secret, "message": "hi"})
    assert Message.objects.filter(recipient=alice.user).count() == 1

    response = call(client, "DELETE", "/v1/app/me", alice)

    assert response.status_code == 204
    assert not AppUser.objects.filter(pk=alice.user.pk).exists()
    assert not Device.objects.filter(user_id=alice.user.pk).exists()
    assert not Channel.objects.filter(owner_id=alice.user.pk).exists()
    assert not Message.objects.filter(recipient_id=alice.user.pk).exists()
    assert not Delivery.objects.filter(message__recipient_id=alice.user.pk).exists()
    assert not BlacklistEntry.objects.filter(user_id=alice.user.pk).exists()
    assert not BlacklistEntry.objects.filter(user=bob.user).exists()  # bob's entry pointed at alice's channel
    assert Channel.objects.filter(pk=bobs_channel.pk).exists()


def test_after_delete_me_the_access_token_is_dead(client, alice):
    call(client, "DELETE", "/v1/app/me", alice)
    response = call(client, "GET", "/v1/app/me", alice)
    assert (response.status_code, status_of(response)) == (401, 4001)


def test_after_delete_me_the_users_channels_cannot_send(client, alice, send, valid_fields):
    call(client, "DELETE", "/v1/app/me", alice)
    response = send(valid_fields)
    assert status_of(response) == 4003


def test_delete_me_needs_a_credential(client, alice):
    response = call(client, "DELETE", "/v1/app/me")
    assert (response.status_code, status_of(response)) == (401, 4001)
    assert AppUser.objects.filter(pk=alice.user.pk).exists()


def test_put_device_rotates_the_push_token(client, alice):
    response = call(
        client, "PUT", "/v1/app/device", alice, {"platform": "android", "push_token": "fcm-new", "app_version": "2.0"}
    )
    assert response.status_code == 200
    assert response.json()["active"] is True
    device = alice.user.devices.get()
    assert (device.push_token, device.app_version) == ("fcm-new", "2.0")


def test_a_refreshed_token_makes_a_dead_device_deliverable_again(client, alice, channel, send, valid_fields):
    device = alice.user.devices.get()
    Device.objects.filter(pk=device.pk).update(
        is_active=False, deactivation_reason="UNREGISTERED", deactivated_at="2026-01-01T00:00Z"
    )
    call(client, "PUT", "/v1/app/device", alice, {"platform": "android", "push_token": "fcm-refreshed"})
    device.refresh_from_db()
    assert (device.is_active, device.deactivated_at, device.deactivation_reason) == (True, None, "")
    send({**valid_fields, "to": alice.token})
    assert Delivery.objects.filter(device=device).count() == 1


def test_the_same_dead_token_again_stays_inactive(client, alice):
    device = alice.user.devices.get()
    Device.objects.filter(pk=device.pk).update(is_active=False, deactivation_reason="UNREGISTERED")
    response = call(client, "PUT", "/v1/app/device", alice, {"platform": "android", "push_token": device.push_token})
    assert response.json()["active"] is False


def test_put_device_creates_a_device_when_the_user_has_none(client, alice):
    alice.user.devices.all().delete()
    call(client, "PUT", "/v1/app/device", alice, {"platform": "ios", "push_token": "cd" * 32, "sandbox": True})
    device = alice.user.devices.get()
    assert (device.platform, device.sandbox, device.is_active) == ("ios", True, True)


def test_put_device_changes_only_the_callers_device(client, alice, bob):
    call(client, "PUT", "/v1/app/device", alice, {"platform": "android", "push_token": "fcm-alice-2"})
    assert bob.user.devices.get().push_token == bob.push_token


def test_put_device_refuses_a_phone_without_push_token(client, alice):
    response = call(client, "PUT", "/v1/app/device", alice, {"platform": "ios", "push_token": ""})
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_put_device_needs_a_credential(client, alice):
    response = call(client, "PUT", "/v1/app/device", body={"platform": "android", "push_token": "x"})
    assert (response.status_code, status_of(response)) == (401, 4001)
