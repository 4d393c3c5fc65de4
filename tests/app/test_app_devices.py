"""Several devices per person: GET/POST /v1/app/devices, DELETE /v1/app/devices/ID, web registration,
the SSRF guard and key checks, one account per push token, GET /v1/app/webpush and /v1/app/config."""

import base64
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction

from messaging import vapid
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.helpers import status_of
from users_app.models import AppUser, Device

pytestmark = pytest.mark.django_db

DEVICE_FIELDS = {"id", "platform", "label", "active", "receives_pushes", "created_at", "last_seen_at"}
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys():
    key = ec.generate_private_key(ec.SECP256R1())
    return {"p256dh": b64url(vapid.public_key_point(key)), "auth": b64url(b"0123456789abcdef")}


def web_body(endpoint=MOZILLA, keys=None, **extra):
    return {"platform": "web", "subscription": {"endpoint": endpoint, "expirationTime": None,
                                                "keys": keys or browser_keys()}, **extra}


@pytest.fixture
def stand_in_hosts(settings, webpush):
    settings.WEBPUSH_ENDPOINT_HOSTS = [f"127.0.0.1:{webpush.port}", f"localhost:{webpush.port}"]


# --- the list ---


def test_the_list_shows_the_accounts_devices_without_tokens(client, alice, bob):
    call(client, "POST", "/v1/app/devices", alice, web_body(label="Laptop"))
    response = call(client, "GET", "/v1/app/devices", alice)
    assert response.status_code == 200
    devices = response.json()["devices"]
    assert [d["platform"] for d in devices] == ["android", "web"]
    assert all(set(d) == DEVICE_FIELDS for d in devices)
    assert devices[1]["label"] == "Laptop" and devices[1]["active"] is True
    assert alice.push_token not in response.content.decode() and "mozilla" not in response.content.decode()
    assert bob.push_token not in response.content.decode()


def test_a_browser_with_notifications_off_is_listed_as_receiving_no_pushes(client, alice):
    call(client, "POST", "/v1/app/devices", alice, web_body(label="Laptop"))
    registered = call(client, "POST", "/v1/app/register", body={"platform": "web"}).json()  # notifications off
    mine = {d["platform"]: d["receives_pushes"]
            for d in call(client, "GET", "/v1/app/devices", alice).json()["devices"]}
    assert mine == {"android": True, "web": True}
    off = call(client, "GET", "/v1/app/devices", HTTP_AUTHORIZATION=f"Bearer {registered['access_token']}").json()
    assert [(d["platform"], d["active"], d["receives_pushes"]) for d in off["devices"]] == [("web", True, False)]


def test_the_list_needs_a_credential(client, alice):
    response = call(client, "GET", "/v1/app/devices")
    assert (response.status_code, status_of(response)) == (401, 4001)


# --- adding ---


def test_a_new_phone_is_201_with_the_device(client, alice):
    response = call(client, "POST", "/v1/app/devices", alice,
                    {"platform": "ios", "push_token": "ef" * 32, "sandbox": True, "label": "iPad"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == DEVICE_FIELDS
    device = Device.objects.get(pk=body["id"])
    assert (device.user_id, device.platform, device.push_token, device.sandbox, device.label) == (
        alice.user.pk, "ios", "ef" * 32, True, "iPad")
    assert body["last_seen_at"] is not None


def test_the_same_token_again_is_200_with_the_same_device(client, alice):
    first = call(client, "POST", "/v1/app/devices", alice, {"platform": "android", "push_token": "fcm-tablet"})
    again = call(client, "POST", "/v1/app/devices", alice,
                 {"platform": "android", "push_token": "fcm-tablet", "label": "Tablet"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["label"] == "Tablet"
    assert alice.user.devices.count() == 2


def test_a_browser_subscription_is_stored_with_its_keys(client, alice):
    body = web_body()
    response = call(client, "POST", "/v1/app/devices", alice, body)
    assert response.status_code == 201
    device = Device.objects.get(pk=response.json()["id"])
    keys = body["subscription"]["keys"]
    assert (device.platform, device.push_token, device.web_p256dh, device.web_auth) == (
        "web", MOZILLA, keys["p256dh"], keys["auth"])
    assert keys["p256dh"] not in response.content.decode()


def test_the_same_subscription_again_is_200(client, alice):
    body = web_body()
    assert call(client, "POST", "/v1/app/devices", alice, body).status_code == 201
    assert call(client, "POST", "/v1/app/devices", alice, body).status_code == 200
    assert alice.user.devices.filter(platform="web").count() == 1


def test_a_dead_token_sent_again_stays_inactive(client, alice):
    device = alice.user.devices.get()
    Device.objects.filter(pk=device.pk).update(is_active=False, deactivation_reason="UNREGISTERED")
    response = call(client, "POST", "/v1/app/devices", alice, {"platform": "android", "push_token": alice.push_token})
    assert (response.status_code, response.json()["active"]) == (200, False)


@pytest.mark.parametrize("body", [
    {"platform": "web"},
    {"platform": "android"},
    {"platform": "ios", "push_token": "  "},
    {"platform": "web", "subscription": {"endpoint": MOZILLA}},
    {"platform": "web", "subscription": "https://fcm.googleapis.com/fcm/send/x"},
    {"platform": "android", "push_token": "x", "label": "x" * 65},
    {"platform": "blackberry", "push_token": "x"},
])
def test_an_incomplete_device_is_refused(client, alice, body):
    response = call(client, "POST", "/v1/app/devices", alice, body)
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert alice.user.devices.count() == 1


# --- the SSRF guard and the key checks ---


@pytest.mark.parametrize("endpoint", [
    "http://updates.push.services.mozilla.com/wpush/v2/x",  # not https
    "https://127.0.0.1/push/x",  # not a push service
    "https://169.254.169.254/latest/meta-data",
    "https://localhost:8000/v1/app/me",
    "https://push.services.mozilla.com.evil.example/x",  # a suffix of ours is not ours
    "https://evilfcm.googleapis.com/fcm/send/x",  # fcm.googleapis.com is exact, no subdomains
    "https://push.services.mozilla.com/x",  # *.x matches subdomains, not x itself
    "https://user:pw@fcm.googleapis.com/fcm/send/x",
    "https://fcm.googleapis.com:99999/x",
    "ftp://fcm.googleapis.com/x",
    "fcm.googleapis.com/fcm/send/x",
    "https://fcm.googleapis.com/fcm/send/x y",
])
def test_an_endpoint_off_the_push_services_is_refused_and_nothing_stored(client, alice, endpoint):
    response = call(client, "POST", "/v1/app/devices", alice, web_body(endpoint))
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert alice.user.devices.count() == 1


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/abc:APA91b",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
    "https://web.push.apple.com/QGuQyavXutnMH",
    "https://FCM.googleapis.com./fcm/send/x",
])
def test_the_public_push_services_are_allowed_by_default(client, alice, endpoint):
    assert call(client, "POST", "/v1/app/devices", alice, web_body(endpoint)).status_code == 201


def test_setting_the_hosts_replaces_the_list(client, alice, settings):
    settings.WEBPUSH_ENDPOINT_HOSTS = ["*.push.example.org"]
    assert call(client, "POST", "/v1/app/devices", alice, web_body("https://eu.push.example.org/1")).status_code == 201
    response = call(client, "POST", "/v1/app/devices", alice, web_body("https://fcm.googleapis.com/fcm/send/1"))
    assert status_of(response) == 4005


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com:22/fcm/send/x",
    "https://fcm.googleapis.com:8443/fcm/send/x",
    "https://eu.push.example.org:8443/1",
])
def test_an_endpoint_on_another_port_than_443_is_refused(client, alice, settings, endpoint):
    settings.WEBPUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com", "*.push.example.org"]
    response = call(client, "POST", "/v1/app/devices", alice, web_body(endpoint))
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert "port 443" in response.json()["response"]["message"]
    assert alice.user.devices.count() == 1


def test_443_may_be_written_out(client, alice):
    response = call(client, "POST", "/v1/app/devices", alice, web_body("https://fcm.googleapis.com:443/fcm/send/x"))
    assert response.status_code == 201


@pytest.mark.parametrize("hosts", [["127.0.0.1:8704"], ["*.push.example.org:8704"], ["[::1]:8704"]])
def test_a_host_listed_with_its_port_is_allowed_on_that_port_only(client, alice, settings, hosts):
    settings.WEBPUSH_ENDPOINT_HOSTS = hosts
    host = {"127": "127.0.0.1", "*.p": "eu.push.example.org", "[::": "[::1]"}[hosts[0][:3]]
    assert call(client, "POST", "/v1/app/devices", alice, web_body(f"https://{host}:8704/push/1")).status_code == 201
    for other in (f"https://{host}:8705/push/1", f"https://{host}/push/1"):
        assert status_of(call(client, "POST", "/v1/app/devices", alice, web_body(other))) == 4005


def not_on_the_curve():
    point = bytearray(vapid.public_key_point(ec.generate_private_key(ec.SECP256R1())))
    point[-1] ^= 1
    return b64url(bytes(point))


@pytest.mark.parametrize("keys", [
    {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"a" * 16)},  # not a point on P-256
    {"p256dh": "NOT_ON_CURVE", "auth": b64url(b"a" * 16)},
    {"p256dh": b64url(b"\x02" + b"\x01" * 32), "auth": b64url(b"a" * 16)},  # compressed
    {"p256dh": "not base64!", "auth": b64url(b"a" * 16)},
    {"p256dh": "", "auth": b64url(b"a" * 16)},
    {"p256dh": "GOOD", "auth": b64url(b"a" * 15)},
    {"p256dh": "GOOD", "auth": b64url(b"a" * 17)},
    {"p256dh": "GOOD", "auth": "a"},
    {"p256dh": "GOOD"},
])
def test_keys_that_cannot_encrypt_are_refused_and_nothing_stored(client, alice, keys):
    good = browser_keys()["p256dh"]
    keys = {name: (good if value == "GOOD" else not_on_the_curve() if value == "NOT_ON_CURVE" else value)
            for name, value in keys.items()}
    response = call(client, "POST", "/v1/app/devices", alice, web_body(keys=keys))
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert alice.user.devices.count() == 1


def test_padded_base64_keys_are_taken_and_stored_unpadded(client, alice):
    keys = browser_keys()
    padded = {"p256dh": keys["p256dh"] + "=", "auth": keys["auth"] + "=="}
    response = call(client, "POST", "/v1/app/devices", alice, web_body(keys=padded))
    device = Device.objects.get(pk=response.json()["id"])
    assert (device.web_p256dh, device.web_auth) == (keys["p256dh"], keys["auth"])


# --- registering a browser ---


def test_register_takes_a_web_subscription(client, stand_in_hosts, web_subscription):
    subscription = web_subscription()
    response = call(client, "POST", "/v1/app/register", body={"platform": "web", "subscription": subscription})
    assert response.status_code == 201
    device = AppUser.objects.get(token=response.json()["user_token"]).devices.get()
    assert (device.platform, device.push_token, device.web_auth) == (
        "web", subscription["endpoint"], subscription["keys"]["auth"])


def test_register_refuses_a_bad_subscription_and_creates_no_account(client):
    before = AppUser.objects.count()
    response = call(client, "POST", "/v1/app/register", body=web_body("https://10.0.0.1/x"))
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert AppUser.objects.count() == before


def test_register_web_without_a_subscription_still_works(client):
    response = call(client, "POST", "/v1/app/register", body={"platform": "web"})
    assert response.status_code == 201
    assert AppUser.objects.get(token=response.json()["user_token"]).devices.get().push_token == ""


def test_put_device_for_web_keeps_the_subscription(client, alice):
    web = Device.objects.get(pk=call(client, "POST", "/v1/app/devices", alice, web_body()).json()["id"])
    call(client, "PUT", "/v1/app/device", alice, {"platform": "web", "push_token": "https://10.0.0.1/x"})
    device = Device.objects.get(pk=web.pk)
    assert (device.push_token, device.web_auth) == (web.push_token, web.web_auth)


def test_put_device_rotates_the_phone_not_the_browser(client, alice):
    web = Device.objects.get(pk=call(client, "POST", "/v1/app/devices", alice, web_body()).json()["id"])
    call(client, "PUT", "/v1/app/device", alice, {"platform": "android", "push_token": "fcm-rotated"})
    assert Device.objects.get(pk=web.pk).push_token == MOZILLA
    assert set(alice.user.devices.values_list("push_token", flat=True)) == {MOZILLA, "fcm-rotated"}


# --- removing ---


def test_delete_removes_the_device_and_its_pending_deliveries(client, alice, bob, channel, send, valid_fields):
    send(valid_fields)  # to bob
    device = bob.user.devices.get()
    assert Delivery.objects.filter(device=device).exists()
    response = call(client, "DELETE", f"/v1/app/devices/{device.pk}", bob)
    assert response.status_code == 204
    assert not Device.objects.filter(pk=device.pk).exists()
    assert not Delivery.objects.filter(device_id=device.pk).exists()
    assert Message.objects.filter(recipient=bob.user).count() == 1  # the inbox keeps the message


def test_another_accounts_device_answers_like_a_missing_one(client, alice, bob):
    bobs = bob.user.devices.get()
    other = call(client, "DELETE", f"/v1/app/devices/{bobs.pk}", alice)
    missing = call(client, "DELETE", f"/v1/app/devices/{2**40}", alice)
    assert (other.status_code, status_of(other)) == (404, 4004)
    assert other.json() == missing.json()
    assert Device.objects.filter(pk=bobs.pk).exists()


def test_a_huge_id_is_404(client, alice):
    response = call(client, "DELETE", f"/v1/app/devices/{2**64}", alice)
    assert (response.status_code, status_of(response)) == (404, 4004)


# --- one account per push token ---


def test_a_token_registered_on_a_new_account_leaves_the_old_one(client, alice, bob):
    response = call(client, "POST", "/v1/app/devices", alice, {"platform": "android", "push_token": bob.push_token})
    assert response.status_code == 201
    assert not bob.user.devices.exists()
    assert Device.objects.get(push_token=bob.push_token).user_id == alice.user.pk


def test_an_endpoint_registered_on_a_new_account_leaves_the_old_one(client, alice, bob):
    body = web_body()
    call(client, "POST", "/v1/app/devices", bob, body)
    assert call(client, "POST", "/v1/app/devices", alice, body).status_code == 201
    assert not bob.user.devices.filter(platform="web").exists()
    assert Device.objects.get(push_token=MOZILLA).user_id == alice.user.pk


def test_a_reinstalled_phone_registering_anew_leaves_the_old_account(client, bob):
    response = call(client, "POST", "/v1/app/register", body={"platform": "android", "push_token": bob.push_token})
    new_user = AppUser.objects.get(token=response.json()["user_token"])
    assert not bob.user.devices.exists()
    assert new_user.devices.get().push_token == bob.push_token


def test_put_device_with_another_accounts_token_moves_it(client, alice, bob):
    call(client, "PUT", "/v1/app/device", alice, {"platform": "android", "push_token": bob.push_token})
    assert not bob.user.devices.exists()
    assert alice.user.devices.get().push_token == bob.push_token


def test_a_moved_token_takes_no_pending_push_of_the_old_account(client, alice, bob, channel, send, valid_fields):
    send(valid_fields)  # queued for bob's phone
    call(client, "POST", "/v1/app/register", body={"platform": "android", "push_token": bob.push_token})
    assert not Delivery.objects.filter(message__recipient=bob.user).exists()


def test_the_database_refuses_a_second_device_with_the_same_token(alice, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(user=bob.user, platform="android", push_token=alice.push_token)
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(user=alice.user, platform="android", push_token=alice.push_token)


def test_empty_tokens_may_repeat(alice):
    Device.objects.create(user=alice.user, platform="web")
    Device.objects.create(user=alice.user, platform="web")
    assert alice.user.devices.filter(push_token="").count() == 2


def test_a_4096_character_token_fits_the_constraint(client, alice):
    token = "".join(f"{i:04x}" for i in range(1024))
    response = call(client, "POST", "/v1/app/devices", alice, {"platform": "android", "push_token": token})
    assert response.status_code == 201


# --- the VAPID key and the config ---


def test_webpush_gives_the_vapid_public_key_without_a_credential(client, settings, vapid_pem):
    settings.VAPID_PRIVATE_KEY = vapid_pem
    response = call(client, "GET", "/v1/app/webpush")
    assert response.status_code == 200
    point = base64.urlsafe_b64decode(response.json()["public_key"] + "==")
    assert len(point) == 65 and point[0] == 4
    assert point == vapid.public_key_point(vapid.load_pem(vapid_pem))


def test_config_names_the_stream_and_the_key(client, settings, vapid_pem):
    settings.VAPID_PRIVATE_KEY = vapid_pem
    settings.STREAM_URL, settings.SITE_URL, settings.STREAM_PORT = "", "", 8001
    response = call(client, "GET", "/v1/app/config", HTTP_HOST="localhost:8000")
    assert response.json() == {"stream_url": "http://localhost:8001/v1/app/stream",
                               "webpush_public_key": vapid.application_server_key()}


def test_config_prefers_site_url_then_stream_url(client, settings):
    settings.STREAM_URL, settings.SITE_URL = "", "https://push.example.org"
    assert call(client, "GET", "/v1/app/config").json()["stream_url"] == "https://push.example.org/v1/app/stream"
    settings.STREAM_URL = "https://stream.example.org/v1/app/stream"
    assert call(client, "GET", "/v1/app/config").json()["stream_url"] == "https://stream.example.org/v1/app/stream"


def test_vapid_keygen_prints_a_new_p256_key():
    run = subprocess.run([sys.executable, "manage.py", "vapid_keygen"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("-----BEGIN PRIVATE KEY-----")
    key = vapid.load_pem(run.stdout)
    assert b64url(vapid.public_key_point(key)) in run.stderr


def test_a_bad_configured_key_is_named(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.VAPID_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"
    with pytest.raises(ImproperlyConfigured, match="VAPID_PRIVATE_KEY"):
        vapid.private_key()
