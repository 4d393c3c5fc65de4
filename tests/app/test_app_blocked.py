"""The blacklist: /v1/app/blocked."""

import pytest

from tests.app_api import call
from tests.helpers import status_of
from users_app.models import BlacklistEntry

pytestmark = pytest.mark.django_db


def test_blocking_a_channel_stops_its_messages(client, bob, channel, send, valid_fields):
    response = call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token})
    assert response.status_code == 201
    assert response.json() == {"token": channel.token, "name": channel.name, "logo_url": None}
    assert status_of(send(valid_fields)) == 4024


def test_blocking_twice_is_idempotent(client, bob, channel):
    call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token})
    assert call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token}).status_code == 201
    assert BlacklistEntry.objects.filter(user=bob.user).count() == 1


def test_it_lists_my_blocked_channels(client, bob, charlie, channel):
    call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token})
    body = call(client, "GET", "/v1/app/blocked", bob).json()
    assert body == {"channels": [{"token": channel.token, "name": channel.name, "logo_url": None}]}
    assert call(client, "GET", "/v1/app/blocked", charlie).json() == {"channels": []}


@pytest.mark.parametrize("token", ["c_" + "0" * 40, "nope", "c_\u0000"])
def test_blocking_an_unknown_channel_is_404(client, bob, token):
    response = call(client, "POST", "/v1/app/blocked", bob, {"channel": token})
    expected = (400, 4005) if "\u0000" in token else (404, 4004)
    assert (response.status_code, status_of(response)) == expected
    assert not BlacklistEntry.objects.exists()


@pytest.mark.parametrize("body", [{}, {"channel": 5}, {"channel": None}, {"channel": ["c_"]}])
def test_blocking_refuses_bad_values_with_4005(client, bob, body):
    response = call(client, "POST", "/v1/app/blocked", bob, body)
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_unblocking_lets_messages_through_again(client, bob, channel, send, valid_fields):
    call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token})
    response = call(client, "DELETE", f"/v1/app/blocked/{channel.token}", bob)
    assert response.status_code == 204
    assert send(valid_fields).status_code == 200


def test_unblocking_another_users_entry_is_404(client, bob, charlie, channel):
    call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token})
    response = call(client, "DELETE", f"/v1/app/blocked/{channel.token}", charlie)
    assert (response.status_code, status_of(response)) == (404, 4004)
    assert BlacklistEntry.objects.filter(user=bob.user).exists()


def test_unblocking_a_channel_not_blocked_is_404(client, bob, channel):
    response = call(client, "DELETE", f"/v1/app/blocked/{channel.token}", bob)
    assert (response.status_code, status_of(response)) == (404, 4004)


def test_the_blacklist_needs_a_credential(client, bob, channel):
    call(client, "POST", "/v1/app/blocked", bob, {"channel": channel.token})
    assert status_of(call(client, "GET", "/v1/app/blocked")) == 4001
    assert status_of(call(client, "POST", "/v1/app/blocked", body={"channel": channel.token})) == 4001
    assert status_of(call(client, "DELETE", f"/v1/app/blocked/{channel.token}")) == 4001
    assert BlacklistEntry.objects.filter(user=bob.user).count() == 1
