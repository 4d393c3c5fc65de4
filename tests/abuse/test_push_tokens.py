"""Push tokens are checked at registration, before they can reach a provider (issue 16, item 2)."""

import pytest

from tests.app_api import call
from tests.helpers import status_of
from users_app.models import Device
from users_app.push_tokens import validate_push_token
from kilopush.errors import InvalidValue

BAD_IOS = ["ab\r\ncd", "ab cd", "zz" * 32, "abc", "ab" * 101, "ab/cd", "ab\x00cd", "ab\u00e9"]
BAD_ANDROID = ["fcm token", "fcm\r\ntoken", "fcm\ttoken", "x" * 4097, "fcm\x7f", "fcm\u00e9", "fcm\u2028x"]


@pytest.mark.parametrize("token", BAD_IOS)
def test_registration_refuses_a_malformed_apns_token(client, db, token):
    response = call(client, "POST", "/v1/app/register", body={"platform": "ios", "push_token": token})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Device.objects.exists()


@pytest.mark.parametrize("token", BAD_ANDROID)
def test_registration_refuses_a_malformed_fcm_token(client, db, token):
    response = call(client, "POST", "/v1/app/register", body={"platform": "android", "push_token": token})
    assert (response.status_code, status_of(response)) == (400, 4005)


@pytest.mark.parametrize("platform, token", [("ios", "ab" * 32), ("ios", "AB" * 100), ("android", "x" * 4096),
                                             ("android", "dQw4w9WgXcQ:APA91bH-_~.x")])
def test_registration_accepts_well_formed_tokens(client, db, platform, token):
    response = call(client, "POST", "/v1/app/register", body={"platform": platform, "push_token": token})
    assert response.status_code == 201


def test_a_device_update_refuses_a_malformed_token(client, alice):
    response = call(client, "PUT", "/v1/app/device", alice, {"platform": "ios", "push_token": "ab\r\ncd"})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert alice.user.devices.get().push_token == alice.push_token


@pytest.mark.parametrize("platform, token", [("ios", "ab\r\ncd"), ("android", "fcm token")])
def test_adding_a_device_refuses_a_malformed_token(client, alice, platform, token):
    response = call(client, "POST", "/v1/app/devices", alice, {"platform": platform, "push_token": token})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert list(alice.user.devices.values_list("push_token", flat=True)) == [alice.push_token]


def test_the_rule_is_one_function_for_every_caller():
    with pytest.raises(InvalidValue):
        validate_push_token("ios", "ab\r\ncd")
    assert validate_push_token("ios", "ab" * 32) == "ab" * 32
