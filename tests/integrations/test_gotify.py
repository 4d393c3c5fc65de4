"""POST /message: Gotify's publishing API (key as ?token=, X-Gotify-Key or Bearer; priority 0-10; extras)."""

import json

import pytest
from django.test import Client

from messaging.models import Message

pytestmark = pytest.mark.django_db


def gotify(body, *, path="/message", content_type="application/json", **headers):
    if content_type == "application/json":
        body = json.dumps(body)
    return Client().generic("POST", path, body, content_type=content_type, **headers)


def sent(response):
    assert response.status_code == 200, response.content
    return Message.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("where", ["query", "X-Gotify-Key", "Bearer"])
def test_the_key_is_taken_from_the_query_the_header_or_a_bearer_token(key, where):
    if where == "query":
        response = gotify({"message": "m"}, path=f"/message?token={key}")
    elif where == "X-Gotify-Key":
        response = gotify({"message": "m"}, HTTP_X_GOTIFY_KEY=key)
    else:
        response = gotify({"message": "m"}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert sent(response).text == "m"


def test_without_a_key_it_is_401_gotify_shaped(key):
    response = gotify({"message": "m"})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized" and response.json()["errorCode"] == 401


def test_the_answer_has_gotifys_message_shape(key, channel):
    extras = {"client::display": {"contentType": "text/markdown"}}
    response = gotify({"message": "Backup **done**", "title": "Nightly", "priority": 5, "extras": extras},
                      HTTP_X_GOTIFY_KEY=key)
    body = response.json()
    message = sent(response)
    assert set(body) == {"id", "appid", "message", "title", "priority", "date", "extras"}
    assert (body["id"], body["appid"], body["message"], body["title"], body["priority"]) == (
        message.pk, channel.pk, "Backup **done**", "Nightly", 5)
    assert body["extras"] == extras  # Markdown is kept for later, not rendered yet
    assert body["date"].endswith("Z")


@pytest.mark.parametrize("priority, important", [(0, False), (1, None), (5, None), (7, None), (8, True), (10, True),
                                                 (None, None)])
def test_priority_maps_to_importance(key, priority, important):
    body = {"message": "m", **({"priority": priority} if priority is not None else {})}
    assert sent(gotify(body, HTTP_X_GOTIFY_KEY=key)).important is important


@pytest.mark.parametrize("priority, ours", [(0, -2), (1, -1), (3, -1), (4, 0), (5, 0), (7, 0), (8, 1), (10, 1),
                                            (None, 0)])
def test_priority_maps_to_our_priority(key, priority, ours):
    """Issue 24: as Gotify's app treats them, 1-3 notify without sound (quiet), 8-10 are high."""
    body = {"message": "m", **({"priority": priority} if priority is not None else {})}
    assert sent(gotify(body, HTTP_X_GOTIFY_KEY=key)).priority == ours


@pytest.mark.parametrize("priority", [11, -1, "high", 1.5, True, [5]])
def test_a_priority_outside_0_to_10_is_400(key, priority):
    response = gotify({"message": "m", "priority": priority}, HTTP_X_GOTIFY_KEY=key)
    assert (response.status_code, response.json()["errorCode"]) == (400, 400)
    assert "priority" in response.json()["errorDescription"]


def test_a_form_body_with_a_string_priority(key):
    message = sent(gotify("message=Disk+full&title=nas&priority=8", content_type="application/x-www-form-urlencoded",
                          HTTP_X_GOTIFY_KEY=key))
    assert (message.text, message.title, message.important) == ("Disk full", "nas", True)


def test_a_multipart_body(key):
    response = Client().post(f"/message?token={key}", {"message": "From Proxmox", "title": "pve", "priority": "0"})
    message = sent(response)
    assert (message.text, message.title, message.important) == ("From Proxmox", "pve", False)


def test_the_click_url_from_extras_is_the_messages_url(key):
    extras = {"client::notification": {"click": {"url": "https://example.org/job/42"}}}
    assert sent(gotify({"message": "m", "extras": extras}, HTTP_X_GOTIFY_KEY=key)).url == "https://example.org/job/42"


@pytest.mark.parametrize("extras", [{"client::notification": "x"}, {"client::notification": {"click": 5}}, {}])
def test_odd_extras_are_ignored(key, extras):
    assert sent(gotify({"message": "m", "extras": extras}, HTTP_X_GOTIFY_KEY=key)).url == ""


def test_extras_that_are_not_an_object_are_400(key):
    response = gotify({"message": "m", "extras": [1]}, HTTP_X_GOTIFY_KEY=key)
    assert response.status_code == 400


def test_a_missing_message_is_400(key):
    response = gotify({"title": "only a title"}, HTTP_X_GOTIFY_KEY=key)
    assert (response.status_code, response.json()["errorDescription"]) == (400, "message is required")


def test_get_is_405_gotify_shaped():
    response = Client().get("/message")
    assert (response.status_code, response.json()["errorCode"], response["Allow"]) == (405, 405, "POST")
