"""Sweeps over every app API operation listed in /v1/schema, so a new endpoint is covered by itself.

BOLA: every operation with an object id in its path, tried on alice's object by bob
(404/4004, exactly like an object that does not exist) and without a credential
(401/4001); the database must be unchanged afterwards.
Mass assignment: every operation with a JSON body, sent with the privileged fields
staff or the platform own; they are refused (4005) or ignored, never applied.
"""

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from channels_app.models import Channel, ChannelDailyCount, SendKey
from channels_app.services import channel_create, send_key_create
from messaging.models import Delivery, Message
from messaging.send.request import SendRequest
from messaging.send.service import message_send
from tests.app_api import call, openapi
from tests.helpers import status_of
from users_app.models import AccessToken, AppUser, BlacklistEntry, Device
from users_app.services import blacklist_add, link_code_create

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def app_operations(predicate):
    # Collected before the test environment exists, so from the generator rather than GET /v1/schema.
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [
        pytest.param(method.upper(), path, operation, id=f"{method.upper()} {path}")
        for path, item in paths.items()
        if path.startswith("/v1/app/")
        for method, operation in item.items()
        if method in METHODS and predicate(path, operation)
    ]


WITH_OBJECT_ID = app_operations(lambda path, operation: "{" in path)
WITH_JSON_BODY = app_operations(
    lambda path, operation: "application/json" in operation.get("requestBody", {}).get("content", {})
)


@pytest.fixture
def objects(alice, bob, charlie):
    """alice's objects of every kind an app API path can name."""
    own = channel_create(owner=alice.user, name="Alice's alarms")
    incoming = channel_create(owner=charlie.user, name="Charlie's bell")
    blacklisted = channel_create(owner=charlie.user, name="Charlie's spam")
    blacklist_add(user=alice.user, channel=blacklisted)
    channel_create(owner=bob.user, name="Bob's own")
    message_id, _ = message_send(
        request=SendRequest(to=alice.token, token=incoming.token, secret=incoming.secret, message="For alice")
    )
    key, _ = send_key_create(channel=own, recipient=alice.user)
    return {
        "channel": own, "blacklisted": blacklisted, "message_id": message_id, "device": alice.user.devices.get(),
        "session": alice.user.access_tokens.get(), "key": key,
    }


def path_to_alices_object(path, objects):
    """The path with alice's object in it; a path naming a new kind of object must be added here."""
    if path.startswith("/v1/app/channels/{token}"):
        return path.replace("{token}", objects["channel"].token).replace("{key_id}", str(objects["key"].pk))
    if path.startswith("/v1/app/blocked/{token}"):
        return path.replace("{token}", objects["blacklisted"].token)
    if path.startswith("/v1/app/messages/{message_id}"):
        return path.replace("{message_id}", str(objects["message_id"]))
    if path.startswith("/v1/app/devices/{device_id}"):
        return path.replace("{device_id}", str(objects["device"].pk))
    if path.startswith("/v1/app/sessions/{session_id}"):
        return path.replace("{session_id}", str(objects["session"].pk))
    raise AssertionError(f"{path}: say which of alice's objects this path names, so the BOLA sweep covers it")


def sample_body(operation):
    """A JSON body with every documented field of the operation, each a plausible value of its type."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schema = openapi()["components"]["schemas"][ref]
    values = {"string": "Renamed", "integer": 1, "boolean": True}
    return {name: values.get(prop.get("type"), "web") for name, prop in schema.get("properties", {}).items()}


def database_state():
    """Every row an app API call could touch."""
    return {
        model.__name__: sorted(map(sorted, (row.items() for row in model.objects.values())), key=str)
        for model in (AppUser, Device, Channel, ChannelDailyCount, BlacklistEntry, Message, Delivery, SendKey)
    } | {"AccessToken": sorted(AccessToken.objects.values_list("id", "user_id", "digest"))}


def test_the_sweeps_cover_the_app_apis_object_and_body_operations():
    assert {p.id for p in WITH_OBJECT_ID} >= {
        "PATCH /v1/app/channels/{token}",
        "DELETE /v1/app/channels/{token}",
        "POST /v1/app/channels/{token}/rotate-secret",
        "DELETE /v1/app/blocked/{token}",
        "POST /v1/app/messages/{message_id}/read",
        "DELETE /v1/app/messages/{message_id}",
        "DELETE /v1/app/devices/{device_id}",
        "GET /v1/app/channels/{token}/keys",
        "POST /v1/app/channels/{token}/keys",
        "DELETE /v1/app/channels/{token}/keys/{key_id}",
        "DELETE /v1/app/sessions/{session_id}",
    }
    assert {p.id for p in WITH_JSON_BODY} >= {
        "POST /v1/app/register",
        "PUT /v1/app/device",
        "POST /v1/app/channels",
        "PATCH /v1/app/channels/{token}",
        "POST /v1/app/messages/read",
        "POST /v1/app/blocked",
        "POST /v1/app/devices",
        "POST /v1/app/link/preview",
    }


@pytest.mark.parametrize("method, path, operation", WITH_OBJECT_ID)
def test_another_user_cannot_reach_the_object(client, bob, objects, method, path, operation):
    before = database_state()
    response = call(client, method, path_to_alices_object(path, objects), bob, sample_body(operation))
    assert (response.status_code, status_of(response)) == (404, 4004)
    assert database_state() == before


@pytest.mark.parametrize("method, path, operation", WITH_OBJECT_ID)
def test_the_object_answers_like_one_that_does_not_exist(client, bob, objects, method, path, operation):
    alices = call(client, method, path_to_alices_object(path, objects), bob, sample_body(operation))
    missing_path = path.replace("{token}", "c_" + "0" * 40).replace("{message_id}", str(2**40))
    missing_path = missing_path.replace("{device_id}", str(2**40)).replace("{key_id}", str(2**40))
    missing_path = missing_path.replace("{session_id}", str(2**40))
    missing = call(client, method, missing_path, bob, sample_body(operation))
    assert alices.json() == missing.json()


@pytest.mark.parametrize("method, path, operation", WITH_OBJECT_ID)
def test_the_object_needs_a_credential(client, objects, method, path, operation):
    before = database_state()
    response = call(client, method, path_to_alices_object(path, objects), None, sample_body(operation))
    assert (response.status_code, status_of(response)) == (401, 4001)
    assert database_state() == before


# Mass assignment

PRIVILEGED = ["verified", "blocked", "owner", "daily_limit", "is_verified", "is_blocked", "token", "secret", "user"]


def valid_body(method, path, objects):
    bodies = {
        ("POST", "/v1/app/register"): {"platform": "web"},
        ("PUT", "/v1/app/device"): {"platform": "web"},
        ("POST", "/v1/app/channels"): {"name": "New"},
        ("PATCH", "/v1/app/channels/{token}"): {"name": "Renamed"},
        ("POST", "/v1/app/messages/read"): {"up_to": objects["message_id"]},
        ("POST", "/v1/app/blocked"): {"channel": objects["channel"].token},
        ("PATCH", "/v1/app/me"): {"read_receipts": False},
        ("POST", "/v1/app/reports"): {"channel": objects["channel"].token, "reason": "spam"},
        ("POST", "/v1/app/link"): {"code": link_code_create(user=objects["channel"].owner)[0]},
        ("POST", "/v1/app/link/preview"): {"code": link_code_create(user=objects["channel"].owner)[0]},
        ("POST", "/v1/app/devices"): {"platform": "android", "push_token": "fcm-mass-assignment"},
        ("POST", "/v1/app/channels/{token}/keys"): {"label": "cron"},
    }
    assert (method, path) in bodies, f"{method} {path}: add a valid body so the mass-assignment sweep covers it"
    return bodies[method, path]


def privileged_value(field, bob, objects):
    return {
        "owner": bob.user.pk,
        "user": bob.user.pk,
        "daily_limit": 1_000_000,
        "token": "c_" + "1" * 40,
        "secret": "f" * 64,
    }.get(field, True)


def privileged_state():
    return {
        "users": {u.pk: (u.token, u.is_blocked) for u in AppUser.objects.all()},
        "access_tokens": set(AccessToken.objects.values_list("user_id", "digest")),
        "channels": {
            c.pk: (c.owner_id, c.token, c.secret_digest, c.is_verified, c.is_blocked) for c in Channel.objects.all()
        },
        "blacklists": set(BlacklistEntry.objects.values_list("user_id", "channel_id")),
        "devices": dict(Device.objects.values_list("id", "user_id")),
    }


@pytest.mark.parametrize("field", PRIVILEGED)
@pytest.mark.parametrize("method, path, operation", WITH_JSON_BODY)
def test_privileged_fields_are_never_assigned(client, alice, bob, objects, method, path, operation, field):
    before = privileged_state()
    body = {**valid_body(method, path, objects), field: privileged_value(field, bob, objects)}
    response = call(client, method, path_to_alices_object(path, objects) if "{" in path else path, alice, body)
    after = privileged_state()

    if response.status_code >= 400:
        assert (response.status_code, status_of(response)) == (400, 4005), response.json()
        assert after == before
        return
    for kind in ("users", "channels"):  # what existed keeps its privileged attributes
        assert {pk: after[kind][pk] for pk in before[kind]} == before[kind]
    # No credential is lost or moved; a new one (register, link) belongs to a new user or the link code's owner.
    assert before["access_tokens"] <= after["access_tokens"]
    new_owners = {user_id for user_id, _ in after["access_tokens"] - before["access_tokens"]}
    assert new_owners <= (after["users"].keys() - before["users"].keys()) | {objects["channel"].owner_id}
    for pk in after["users"].keys() - before["users"].keys():  # a new user (register) starts plain
        token, is_blocked = after["users"][pk]
        assert (token != body.get("token"), is_blocked) == (True, False)
    for pk in after["channels"].keys() - before["channels"].keys():  # a new channel is alice's and plain
        owner_id, token, _, is_verified, is_blocked = after["channels"][pk]
        assert (owner_id, token != body.get("token"), is_verified, is_blocked) == (alice.user.pk, True, False, False)
    assert {entry for entry in after["blacklists"] - before["blacklists"] if entry[0] != alice.user.pk} == set()
    assert {pk: after["devices"][pk] for pk in before["devices"]} == before["devices"]  # no device changes hands
    new_devices = {after["devices"][pk] for pk in after["devices"].keys() - before["devices"].keys()}
    assert new_devices <= {alice.user.pk} or (method, path) == ("POST", "/v1/app/register")
    if response.status_code != 204 and "daily_limit" in response.json():
        assert response.json()["daily_limit"] == settings.CHANNEL_DAILY_LIMIT
