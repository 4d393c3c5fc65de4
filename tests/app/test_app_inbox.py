"""The inbox: GET /v1/app/messages, marking read, deleting."""

import pytest

from channels_app.services import channel_set_verified
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.helpers import status_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(bob, send, valid_fields):
    """Five messages to bob (ids ascending)."""
    ids = [int(send({**valid_fields, "message": f"m{n}"}).json()["response"]["id"]) for n in range(5)]
    return ids


def ids_of(response):
    return [m["id"] for m in response.json()["messages"]]


def test_it_lists_messages_newest_first(client, bob, inbox):
    response = call(client, "GET", "/v1/app/messages", bob)
    assert response.status_code == 200
    assert ids_of(response) == inbox[::-1]


def test_an_item_has_the_documented_shape(client, bob, channel, send, valid_fields):
    channel_set_verified(channel=channel, verified=True)
    send({**valid_fields, "message": "Door 🔔", "url": "https://example.org/cam", "important": 1})
    [item] = call(client, "GET", "/v1/app/messages", bob).json()["messages"]
    assert item["channel"] == {"token": channel.token, "name": "Alice's alarms", "logo_url": None, "verified": True}
    assert (item["message"], item["url"], item["important"], item["read"]) == (
        "Door 🔔",
        "https://example.org/cam",
        True,
        False,
    )
    assert item["created_at"].endswith("Z")


@pytest.mark.parametrize("flags, expected", [({}, None), ({"important": 1}, True), ({"silent": 1}, False)])
def test_important_is_the_stored_value(client, bob, send, valid_fields, flags, expected):
    send({**valid_fields, **flags})
    [item] = call(client, "GET", "/v1/app/messages", bob).json()["messages"]
    assert item["important"] is expected
    assert item["url"] is None


def test_it_shows_only_my_messages(client, alice, bob, inbox):
    assert ids_of(call(client, "GET", "/v1/app/messages", alice)) == []


def test_limit_cuts_the_page(client, bob, inbox):
    assert ids_of(call(client, "GET", "/v1/app/messages?limit=2", bob)) == inbox[:-3:-1]


def test_before_pages_backwards(client, bob, inbox):
    response = call(client, "GET", f"/v1/app/messages?before={inbox[2]}&limit=10", bob)
    assert ids_of(response) == [inbox[1], inbox[0]]


def test_after_returns_newer_messages(client, bob, inbox):
    response = call(client, "GET", f"/v1/app/messages?after={inbox[2]}", bob)
    assert ids_of(response) == [inbox[4], inbox[3]]


def test_after_and_before_together_give_a_range(client, bob, inbox):
    response = call(client, "GET", f"/v1/app/messages?after={inbox[0]}&before={inbox[4]}&limit=2", bob)
    assert ids_of(response) == [inbox[3], inbox[2]]


def test_paging_with_before_walks_the_whole_inbox(client, bob, inbox):
    seen, url = [], "/v1/app/messages?limit=2"
    while True:
        page = ids_of(call(client, "GET", url, bob))
        if not page:
            break
        seen += page
        url = f"/v1/app/messages?limit=2&before={page[-1]}"
    assert seen == inbox[::-1]


def test_the_default_limit_is_50(client, bob, send, valid_fields):
    for _ in range(51):
        send(valid_fields)
    assert len(ids_of(call(client, "GET", "/v1/app/messages", bob))) == 50


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=x",
        "after=-1",
        "before=abc",
        "after=99999999999999999999",
        "limit=1e3",
        "limit=1.5",
    ],
)
def test_it_refuses_bad_query_values_with_4005(client, bob, inbox, query):
    response = call(client, "GET", f"/v1/app/messages?{query}", bob)
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_mark_one_read(client, bob, inbox):
    response = call(client, "POST", f"/v1/app/messages/{inbox[1]}/read", bob)
    assert response.status_code == 204
    assert [m.read_at is not None for m in Message.objects.order_by("id")] == [False, True, False, False, False]
    assert call(client, "GET", "/v1/app/me", bob).json()["unread"] == 4


def test_marking_read_twice_keeps_the_first_time(client, bob, inbox):
    call(client, "POST", f"/v1/app/messages/{inbox[0]}/read", bob)
    first = Message.objects.get(pk=inbox[0]).read_at
    assert call(client, "POST", f"/v1/app/messages/{inbox[0]}/read", bob).status_code == 204
    assert Message.objects.get(pk=inbox[0]).read_at == first


def test_the_list_shows_read(client, bob, inbox):
    call(client, "POST", f"/v1/app/messages/{inbox[4]}/read", bob)
    messages = call(client, "GET", "/v1/app/messages", bob).json()["messages"]
    assert [m["read"] for m in messages] == [True, False, False, False, False]


def test_mark_read_up_to(client, bob, inbox):
    response = call(client, "POST", "/v1/app/messages/read", bob, {"up_to": inbox[2]})
    assert response.status_code == 204
    assert [m.read_at is not None for m in Message.objects.order_by("id")] == [True, True, True, False, False]


def test_mark_read_up_to_leaves_other_users_messages(client, alice, bob, inbox, channel, send):
    send({"to": alice.token, "token": channel.token, "secret": channel.secret, "message": "to alice"})
    call(client, "POST", "/v1/app/messages/read", bob, {"up_to": 10**12})
    assert Message.objects.get(recipient=alice.user).read_at is None


@pytest.mark.parametrize(
    "body", [{}, {"up_to": "5"}, {"up_to": 0}, {"up_to": True}, {"up_to": 1.5}, {"up_to": 2**63}, {"up_to": None}]
)
def test_mark_read_up_to_refuses_bad_values_with_4005(client, bob, body):
    response = call(client, "POST", "/v1/app/messages/read", bob, body)
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_delete_a_message(client, bob, inbox):
    response = call(client, "DELETE", f"/v1/app/messages/{inbox[0]}", bob)
    assert response.status_code == 204
    assert not Message.objects.filter(pk=inbox[0]).exists()
    assert not Delivery.objects.filter(message_id=inbox[0]).exists()
    assert Message.objects.count() == 4


@pytest.mark.parametrize("method, suffix", [("POST", "/read"), ("DELETE", "")])
def test_another_users_message_is_404(client, charlie, inbox, method, suffix):
    response = call(client, method, f"/v1/app/messages/{inbox[0]}{suffix}", charlie)
    assert (response.status_code, status_of(response)) == (404, 4004)
    message = Message.objects.get(pk=inbox[0])
    assert message.read_at is None


@pytest.mark.parametrize("method, suffix", [("POST", "/read"), ("DELETE", "")])
def test_a_message_without_credential_is_401(client, inbox, method, suffix):
    response = call(client, method, f"/v1/app/messages/{inbox[0]}{suffix}")
    assert (response.status_code, status_of(response)) == (401, 4001)
    assert Message.objects.filter(pk=inbox[0], read_at__isnull=True).exists()


@pytest.mark.parametrize("message_id", ["999999", "99999999999999999999999"])
def test_an_unknown_message_is_404(client, bob, message_id):
    response = call(client, "DELETE", f"/v1/app/messages/{message_id}", bob)
    assert (response.status_code, status_of(response)) == (404, 4004)


def test_the_inbox_needs_a_credential(client, inbox):
    assert status_of(call(client, "GET", "/v1/app/messages")) == 4001
    assert status_of(call(client, "POST", "/v1/app/messages/read", body={"up_to": inbox[-1]})) == 4001
    assert not Message.objects.filter(read_at__isnull=False).exists()
