"""Signing a session out stops the pushes of the devices it registered (a lost laptop no longer shows 2FA codes)."""

import pytest

from messaging.models import Delivery
from tests.app.test_app_devices import web_body
from tests.app.test_app_sessions import linked
from tests.app_api import call
from users_app.models import Device
from users_app.services import SIGNED_OUT

pytestmark = pytest.mark.django_db


def devices(client, person):
    return {d["id"]: d for d in call(client, "GET", "/v1/app/devices", person).json()["devices"]}


def add_browser(client, person, endpoint):
    response = call(client, "POST", "/v1/app/devices", person, web_body(endpoint=endpoint, label="Laptop"))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def session_id(client, person):
    listed = call(client, "GET", "/v1/app/sessions", person).json()["sessions"]
    return next(s["id"] for s in listed if s["current"])


def pushed_to(send, fields):
    response = send(fields)
    assert response.status_code == 200, response.content
    message_id = int(response.json()["response"]["id"])
    return set(Delivery.objects.filter(message_id=message_id).values_list("device_id", flat=True))


def test_a_revoked_sessions_browser_gets_no_more_pushes_and_the_others_still_do(client, send, valid_fields, bob):
    laptop = linked(client, bob)
    browser = add_browser(client, laptop, "https://updates.push.services.mozilla.com/wpush/v2/laptop")
    phone = Device.objects.get(user=bob.user, platform="android").pk
    assert pushed_to(send, valid_fields) == {phone, browser}

    assert call(client, "DELETE", f"/v1/app/sessions/{session_id(client, laptop)}", bob).status_code == 204

    assert pushed_to(send, valid_fields) == {phone}
    listed = devices(client, bob)
    assert listed[browser]["active"] is False and listed[browser]["receives_pushes"] is False
    assert listed[phone]["active"] is True
    assert Device.objects.get(pk=browser).deactivation_reason == SIGNED_OUT


def test_signing_this_session_out_stops_its_own_devices(client, send, valid_fields, bob):
    laptop = linked(client, bob)
    browser = add_browser(client, laptop, "https://updates.push.services.mozilla.com/wpush/v2/own")
    assert call(client, "DELETE", "/v1/app/sessions/current", laptop).status_code == 204
    assert Device.objects.get(pk=browser).is_active is False
    assert browser not in pushed_to(send, valid_fields)


def test_a_device_another_session_registered_keeps_receiving(client, send, valid_fields, bob):
    laptop = linked(client, bob)
    tablet = linked(client, bob)
    browser = add_browser(client, tablet, "https://updates.push.services.mozilla.com/wpush/v2/tablet")
    assert call(client, "DELETE", f"/v1/app/sessions/{session_id(client, laptop)}", bob).status_code == 204
    assert browser in pushed_to(send, valid_fields)


def test_the_first_session_owns_the_device_it_registered_with(client, send, valid_fields, bob):
    phone = Device.objects.get(user=bob.user, platform="android")
    laptop = linked(client, bob)
    assert call(client, "DELETE", f"/v1/app/sessions/{session_id(client, bob)}", laptop).status_code == 204
    phone.refresh_from_db()
    assert phone.is_active is False and phone.deactivation_reason == SIGNED_OUT
    assert phone.pk not in pushed_to(send, valid_fields)


def test_signing_in_again_and_registering_makes_the_device_receive_again(client, send, valid_fields, bob):
    endpoint = "https://updates.push.services.mozilla.com/wpush/v2/again"
    keys = web_body()["subscription"]["keys"]
    laptop = linked(client, bob)
    response = call(client, "POST", "/v1/app/devices", laptop, web_body(endpoint=endpoint, keys=keys))
    browser = response.json()["id"]
    assert call(client, "DELETE", f"/v1/app/sessions/{session_id(client, laptop)}", bob).status_code == 204
    assert browser not in pushed_to(send, valid_fields)

    again = linked(client, bob)  # the same browser, signed in again: it registers the same subscription
    response = call(client, "POST", "/v1/app/devices", again, web_body(endpoint=endpoint, keys=keys))
    assert response.status_code == 200 and response.json()["id"] == browser
    assert response.json()["active"] is True
    assert browser in pushed_to(send, valid_fields)


def test_a_dead_token_stays_inactive_when_sent_again(client, bob):
    """The session rule reactivates only what a sign-out stopped: a token the provider called dead stays dead."""
    phone = Device.objects.get(user=bob.user, platform="android")
    Device.objects.filter(pk=phone.pk).update(is_active=False, deactivation_reason="UNREGISTERED")
    response = call(client, "PUT", "/v1/app/device", bob, {"platform": "android", "push_token": phone.push_token})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
