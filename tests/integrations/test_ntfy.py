"""ntfy-compatible publishing: POST/PUT /KEY with headers or query parameters, and JSON to POST /."""

import json
from email.header import Header

import pytest
from django.test import Client

from messaging.models import Message

pytestmark = pytest.mark.django_db


def publish(key, body=b"Backup done", *, method="POST", query="", **headers):
    return Client().generic(method, f"/{key}{query}", body, content_type="text/plain", **headers)


def publish_json(body, method="POST"):
    return Client().generic(method, "/", json.dumps(body), content_type="application/json")


def sent(response):
    assert response.status_code == 200, response.content
    return Message.objects.get(pk=int(response.json()["id"]))


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_the_body_is_the_message_and_headers_set_the_rest(key, method):
    response = publish(key, b"Disk at 91%", method=method, HTTP_X_TITLE="nas", HTTP_X_PRIORITY="high",
                       HTTP_X_CLICK="https://example.org/nas", HTTP_X_MARKDOWN="yes")
    message = sent(response)
    assert (message.text, message.title, message.url, message.important) == (
        "Disk at 91%", "nas", "https://example.org/nas", True)


def test_short_header_names_and_query_parameters_work_too(key):
    message = sent(publish(key, HTTP_T="short", HTTP_P="1"))
    assert (message.title, message.important) == ("short", False)
    message = sent(publish(key, query="?title=From+the+query&priority=5&click=https://example.org/q&tags=warning"))
    assert (message.title, message.important, message.url) == ("⚠️ From the query", True, "https://example.org/q")


@pytest.mark.parametrize("priority, important", [("1", False), ("min", False), ("2", None), ("low", None),
                                                 ("3", None), ("default", None), ("4", True), ("high", True),
                                                 ("5", True), ("urgent", True), ("max", True), ("MAX", True)])
def test_priority_maps_to_importance(key, priority, important):
    assert sent(publish(key, HTTP_PRIORITY=priority)).important is important


@pytest.mark.parametrize("priority, ours", [("1", -2), ("min", -2), ("2", -1), ("low", -1), ("3", 0), ("default", 0),
                                           ("4", 1), ("high", 1), ("5", 1), ("urgent", 1), ("max", 1)])
def test_priority_maps_to_our_priority(key, priority, ours):
    """Issue 24: 2 (low) is pushed quietly; 5 is high, not an emergency (ntfy sends no retry or expire)."""
    message = sent(publish(key, HTTP_PRIORITY=priority))
    assert message.priority == ours and message.emergency_retry is None


def test_a_json_publication_maps_its_priority_too(key):
    assert sent(publish_json({"topic": key, "message": "m", "priority": 2})).priority == -1


@pytest.mark.parametrize("priority", ["0", "6", "loud", "1.5"])
def test_an_invalid_priority_is_400_ntfy_shaped(key, priority):
    response = publish(key, HTTP_X_PRIORITY=priority)
    assert response.status_code == 400
    assert response.json()["code"] == 40001 and "priority" in response.json()["error"]


def test_known_tags_become_emoji_before_the_title(key):
    message = sent(publish(key, HTTP_X_TITLE="Disk full", HTTP_X_TAGS="warning,nas,rotating_light"))
    assert message.title == "⚠️🚨 Disk full"


def test_without_a_title_the_emoji_go_before_the_message(key):
    assert sent(publish(key, b"Backup done", HTTP_TAGS="white_check_mark")).text == "✅ Backup done"


def test_an_empty_body_is_triggered_like_ntfy(key):
    assert sent(publish(key, b"")).text == "triggered"


def test_a_message_header_overrides_the_body(key):
    assert sent(publish(key, b"", HTTP_X_MESSAGE="From the header")).text == "From the header"


def test_utf8_and_rfc2047_headers_are_decoded(key):
    raw_utf8 = "Über & out".encode().decode("latin-1")  # how WSGI hands over a UTF-8 header
    assert sent(publish(key, HTTP_X_TITLE=raw_utf8)).title == "Über & out"
    encoded = Header("Grüße 🚀", "utf-8").encode()
    assert sent(publish(key, HTTP_X_TITLE=encoded)).title == "Grüße 🚀"


@pytest.mark.parametrize("title", ["=?bogus?Q?abc?=", "=?UTF-8?Q?=FF=FE?=", "=?utf-8?b?/w==?=", "=?UTF-8?B?####?=",
                                   "=?rot13?q?abc?=", "=?utf-16?b?AA?=", "=?", "=?UTF-8?X?abc?="])
def test_a_malformed_rfc2047_header_is_never_a_500(key, title):
    response = publish(key, HTTP_X_TITLE=title)
    assert response.status_code in (200, 400), response.content


def test_a_body_that_is_not_utf8_is_400(key):
    response = publish(key, b"\xff\xfe\x00\x81")
    assert (response.status_code, response.json()["code"]) == (400, 40001)


def test_the_answer_is_ntfy_shaped_with_the_topic_masked(key):
    response = publish(key, b"Disk at 91%", HTTP_X_TITLE="nas", HTTP_X_PRIORITY="4", HTTP_X_TAGS="warning",
                       HTTP_X_CLICK="https://example.org/nas")
    body = response.json()
    assert set(body) == {"id", "time", "event", "topic", "message", "title", "priority", "tags", "click"}
    assert (body["event"], body["topic"], body["message"], body["title"], body["priority"], body["click"]) == (
        "message", "k_…" + key[-4:], "Disk at 91%", "⚠️ nas", 4, "https://example.org/nas")
    assert body["id"] == str(sent(response).pk) and isinstance(body["time"], int)
    assert key not in response.content.decode()


def test_a_minimal_answer_leaves_out_what_was_not_sent(key):
    assert set(publish(key).json()) == {"id", "time", "event", "topic", "message"}


def test_json_publishing_to_the_root(key):
    response = publish_json({"topic": key, "message": "Backup done", "title": "Nightly", "priority": 5,
                             "tags": ["white_check_mark"], "click": "https://example.org/b"})
    message = sent(response)
    assert (message.text, message.title, message.important, message.url) == (
        "Backup done", "✅ Nightly", True, "https://example.org/b")
    assert response.json()["topic"] == "k_…" + key[-4:]


def test_json_publishing_without_a_message_is_triggered(key):
    assert sent(publish_json({"topic": key})).text == "triggered"


@pytest.mark.parametrize("body", [{"message": "no topic"}, {"topic": 5}, {"topic": "", "message": "m"}])
def test_json_publishing_needs_a_topic(key, body):
    assert publish_json(body).status_code == 400


def test_a_topic_that_is_not_a_key_is_unauthorized(key):
    response = publish_json({"topic": "backups", "message": "m"})
    assert (response.status_code, response.json()) == (401, {"code": 40101, "http": 401, "error": "unauthorized"})
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [{"topic": "k", "tags": "a,b", "priority": "9"}, {"topic": "k", "priority": True},
                                  {"topic": "k", "title": 5}, {"topic": "k", "click": ["x"]}])
def test_json_fields_of_the_wrong_type_are_400(key, body):
    body["topic"] = key
    response = publish_json(body)
    assert (response.status_code, response.json()["code"]) == (400, 40001)


def test_get_of_the_root_is_still_the_web_app():
    response = Client().get("/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/backups", "/k_" + "A" * 40, "/k_" + "0" * 39, "/k_" + "0" * 40 + "/x"])
def test_only_keys_are_topics(path):
    assert Client().post(path, b"m", content_type="text/plain").status_code == 404


def test_get_of_a_key_is_405_ntfy_shaped(key):
    response = Client().get(f"/{key}")
    assert (response.status_code, response.json()["code"], response["Allow"]) == (405, 40501, "POST, PUT")


def test_a_huge_header_is_shortened_not_refused(key):
    message = sent(publish(key, HTTP_X_TITLE="t" * 20_000))
    assert len(message.title) == 250


def test_json_publishing_takes_headers_for_what_the_json_leaves_out(key):
    # Apprise's ntfy:// posts JSON to / and puts priority, tags and click in headers
    response = Client().post("/", json.dumps({"topic": key, "message": "m", "title": "From JSON"}),
                             content_type="application/json", HTTP_X_PRIORITY="high", HTTP_X_TAGS="warning",
                             HTTP_X_TITLE="From a header", HTTP_X_CLICK="https://example.org/h")
    message = sent(response)
    assert (message.title, message.important, message.url) == ("⚠️ From JSON", True, "https://example.org/h")
