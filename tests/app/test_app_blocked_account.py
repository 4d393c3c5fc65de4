"""An account blocked by staff: 403 with status 4023 on every app API call except reading, marking read,
deleting inbox messages, signing out sessions and deleting the account."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from channels_app.services import channel_create
from messaging.models import Message
from tests.app_api import call
from tests.helpers import status_of
from users_app.auth import allowed_while_blocked, concrete_path
from users_app.models import AppUser
from users_app.models import AccessToken
from users_app.services import app_user_set_blocked, link_code_create

pytestmark = pytest.mark.django_db

BODIES = {
    ("/v1/app/blocked", "POST"): {"channel": "TOKEN"},
    ("/v1/app/channels", "POST"): {"name": "New"},
    ("/v1/app/channels/{token}", "PATCH"): {"name": "Renamed"},
    ("/v1/app/device", "PUT"): {"platform": "android", "push_token": "fcm-new"},
    ("/v1/app/messages/read", "POST"): {"up_to": 1},
}


WITHOUT_ACCESS_TOKEN = ("/v1/app/register", "/v1/app/link", "/v1/app/link/preview")


def app_operations():
    """(path template, method) of every operation of the app API in the published schema."""
    schema = SchemaGenerator().get_schema(public=True)
    return sorted(
        (path, method.upper())
        for path, operations in schema["paths"].items()
        if path.startswith("/v1/app/") and path not in WITHOUT_ACCESS_TOKEN
        for method in operations
    )


@pytest.fixture
def blocked_alice(alice, bob, channel):
    message = Message.objects.create(recipient=alice.user, channel=channel, text="hi")
    app_user_set_blocked(user=alice.user, blocked=True)
    return alice, channel, message


def _call(client, person, path, method, channel, message):
    concrete = concrete_path(path.replace("{token}", channel.token).replace("{message_id}", str(message.id)))
    body = BODIES.get((path, method))
    if body is not None:
        body = json.loads(json.dumps(body).replace("TOKEN", channel.token))
    return client.generic(method, concrete, json.dumps(body) if body is not None else "",
                          content_type="application/json", **person.auth)


def test_the_allow_list_is_reading_marking_read_and_deleting():
    operations = app_operations()
    allowed = {(path, method) for path, method in operations if allowed_while_blocked(_url_name(path), method)}
    assert allowed == {
        ("/v1/app/blocked", "GET"), ("/v1/app/channels", "GET"), ("/v1/app/me", "GET"), ("/v1/app/messages", "GET"),
        ("/v1/app/config", "GET"), ("/v1/app/devices", "GET"), ("/v1/app/webpush", "GET"),
        ("/v1/app/channels/{token}/keys", "GET"),
        ("/v1/app/messages/read", "POST"), ("/v1/app/messages/{message_id}/read", "POST"),
        ("/v1/app/messages/{message_id}", "DELETE"), ("/v1/app/me", "DELETE"),
        # Sessions: a blocked person may still see and sign out a browser or phone they lost.
        ("/v1/app/sessions", "GET"), ("/v1/app/sessions/{session_id}", "DELETE"),
        ("/v1/app/sessions/current", "DELETE"),
    }


def _url_name(path):
    from django.urls import resolve

    return resolve(concrete_path(path)).url_name


def test_every_other_call_is_403_4023(client, blocked_alice):
    alice, channel, message = blocked_alice
    refused = []
    for path, method in app_operations():
        if allowed_while_blocked(_url_name(path), method):
            continue
        response = _call(client, alice, path, method, channel, message)
        assert (response.status_code, status_of(response)) == (403, 4023), (path, method, response.content)
        refused.append((path, method))
    # channel create, rename, logo (PATCH), rotate, delete; device; blacklist add and remove
    assert {("/v1/app/channels", "POST"), ("/v1/app/channels/{token}", "PATCH"),
            ("/v1/app/channels/{token}", "DELETE"), ("/v1/app/channels/{token}/rotate-secret", "POST"),
            ("/v1/app/device", "PUT"), ("/v1/app/blocked", "POST"), ("/v1/app/blocked/{token}", "DELETE")} <= set(refused)
    channel.refresh_from_db()
    assert channel.name == "Alice's alarms"


def test_the_refusal_is_in_the_published_schema(client, blocked_alice):
    alice, channel, message = blocked_alice
    response = call(client, "POST", f"/v1/app/channels/{channel.token}/rotate-secret", alice)
    assert (response.status_code, status_of(response)) == (403, 4023)  # call() checks it against the schema


def test_a_blocked_account_may_still_read_mark_read_delete_messages_and_itself(client, blocked_alice):
    alice, channel, message = blocked_alice
    assert call(client, "GET", "/v1/app/messages", alice).status_code == 200
    assert call(client, "GET", "/v1/app/me", alice).status_code == 200
    assert call(client, "POST", f"/v1/app/messages/{message.id}/read", alice).status_code == 204
    assert call(client, "POST", "/v1/app/messages/read", alice, {"up_to": message.id}).status_code == 204
    assert call(client, "DELETE", f"/v1/app/messages/{message.id}", alice).status_code == 204
    assert call(client, "DELETE", "/v1/app/me", alice).status_code == 204
    assert not AppUser.objects.filter(pk=alice.user.pk).exists()


def test_an_account_not_blocked_is_not_refused(client, alice, channel):
    response = call(client, "POST", f"/v1/app/channels/{channel.token}/rotate-secret", alice)
    assert response.status_code == 200


def test_unblocking_lets_the_account_write_again(client, blocked_alice):
    alice, channel, _ = blocked_alice
    app_user_set_blocked(user=alice.user, blocked=False)
    assert call(client, "PATCH", f"/v1/app/channels/{channel.token}", alice, {"name": "Back"}).status_code == 200


def test_a_link_code_made_before_the_block_links_nothing_after_it(client, alice):
    code, _ = link_code_create(user=alice.user)
    app_user_set_blocked(user=alice.user, blocked=True)
    tokens = AccessToken.objects.filter(user=alice.user).count()
    response = call(client, "POST", "/v1/app/link", body={"code": code})
    assert (response.status_code, status_of(response)) == (403, 4023)
    assert AccessToken.objects.filter(user=alice.user).count() == tokens
