"""POST /v1/hooks/KEY: plain text, curl's raw form body, the send API's fields, Alertmanager and Grafana."""

import json

import pytest
from django.test import Client

from messaging.models import Message
from tests.helpers import status_of
from tests.integrations.support import inbox, payload

pytestmark = pytest.mark.django_db


def hook(key, body, content_type, **extra):
    return Client().generic("POST", f"/v1/hooks/{key}", body, content_type=content_type, **extra)


def sent(response):
    assert status_of(response) == 200, response.content
    return Message.objects.get(pk=int(response.json()["response"]["id"]))


def test_a_text_body_is_the_message(key):
    message = sent(hook(key, "Disk at 91%\n", "text/plain"))
    assert (message.text, message.title, message.important) == ("Disk at 91%", "", None)


def test_a_body_without_a_content_type_is_the_message(key):
    assert sent(hook(key, b"Door opened", "")).text == "Door opened"


def test_curls_raw_form_body_is_the_message_as_typed(key):
    # curl -d "Backup done at 03:00 & ok" URL: form-encoded, the whole text one field name
    message = sent(hook(key, "Backup done at 03:00 & ok", "application/x-www-form-urlencoded"))
    assert message.text == "Backup done at 03:00 & ok"


def test_a_form_with_the_send_apis_fields(key):
    body = "message=Backup+done&title=Nightly&url=https%3A%2F%2Fexample.org%2Flog&important=1&ttl=3600"
    message = sent(hook(key, body, "application/x-www-form-urlencoded"))
    assert (message.text, message.title, message.url, message.important) == (
        "Backup done", "Nightly", "https://example.org/log", True)
    assert message.expires_at is not None


def test_a_hook_takes_the_send_apis_priority_and_an_emergencys_retry_and_expire(key):
    """Issue 24: the hook's scale is the send API's own (-2..2)."""
    message = sent(hook(key, json.dumps({"message": "Quiet", "priority": -1}), "application/json"))
    assert message.priority == -1
    body = "message=Down&priority=2&retry=60&expire=600"
    message = sent(hook(key, body, "application/x-www-form-urlencoded"))
    assert (message.priority, message.emergency_retry) == (2, 60)
    response = hook(key, json.dumps({"message": "x", "priority": 2}), "application/json")
    assert response.status_code == 400 and "retry" in response.json()["response"]["message"]


def test_a_json_body_with_the_send_apis_fields(key):
    message = sent(hook(key, json.dumps({"message": "Quiet", "title": "FYI", "silent": 1}), "application/json"))
    assert (message.text, message.title, message.important) == ("Quiet", "FYI", False)


def test_a_multipart_body_with_the_send_apis_fields(key):
    message = sent(Client().post(f"/v1/hooks/{key}", {"message": "From a form", "title": "Multipart"}))
    assert (message.text, message.title) == ("From a form", "Multipart")


def test_a_json_body_without_a_message_field_is_the_message(key):
    message = sent(hook(key, '{"event": "deploy", "ok": true}', "application/json"))
    assert message.text == '{"event": "deploy", "ok": true}'


def test_the_send_apis_checks_still_apply_to_its_fields(key):
    response = hook(key, json.dumps({"message": "x", "url": "ftp://example.org"}), "application/json")
    assert (response.status_code, status_of(response)) == (400, 4005)
    response = hook(key, json.dumps({"message": "x", "important": 1, "silent": 1}), "application/json")
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_an_empty_body_is_4005(key):
    response = hook(key, b"", "text/plain")
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_alertmanagers_webhook_is_one_message_with_a_line_per_alert(key):
    message = sent(hook(key, payload("alertmanager-v4.json"), "application/json"))
    assert message.title == "[FIRING:1] ProbeFailure"
    assert message.text == "BlackBox Probe Failure: https://server.example.org"  # the summary
    assert message.url == "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1"
    assert message.important is True  # firing, severity critical


def test_alertmanager_without_a_summary_takes_the_description_and_is_not_important(key):
    message = sent(hook(key, payload("alertmanager-description.json"), "application/json"))
    assert (message.title, message.text, message.important) == ("[FIRING:1] Test", "some description", None)


def test_a_resolved_alertmanager_group_is_resolved_and_not_important(key):
    data = json.loads(payload("alertmanager-v4.json"))
    data["status"] = "resolved"
    data["alerts"][0]["status"] = "resolved"
    data["alerts"][0]["generatorURL"] = "not a url"  # a tool's bad URL is dropped: externalURL instead
    message = sent(hook(key, json.dumps(data), "application/json"))
    assert (message.title, message.important, message.url) == (
        "[RESOLVED] ProbeFailure", None, "http://prometheus.example.org:9093")


def test_alertmanager_with_several_alerts_counts_the_firing_ones(key):
    data = json.loads(payload("alertmanager-v4.json"))
    second = {**data["alerts"][0], "annotations": {"summary": "Second\nprobe down"},
              "labels": {**data["alerts"][0]["labels"], "severity": "warning"}}
    third = {**data["alerts"][0], "status": "resolved", "annotations": {"description": "Third back"}}
    data["alerts"] += [second, third]
    message = sent(hook(key, json.dumps(data), "application/json"))
    assert message.title == "[FIRING:2] ProbeFailure"
    assert message.text.split("\n") == ["BlackBox Probe Failure: https://server.example.org", "Second probe down",
                                        "Third back"]


def test_grafanas_webhook_gives_its_title_and_message(key):
    data = json.loads(payload("grafana.json"))
    message = sent(hook(key, payload("grafana.json"), "application/json"))
    assert message.title == "[FIRING:2]  (blue)"
    assert message.text == data["message"].strip()
    assert message.url == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert message.important is None  # no severity label


def test_the_idempotency_key_header_repeats_the_first_send(key):
    first = hook(key, "Backup done", "text/plain", HTTP_IDEMPOTENCY_KEY="backup-2026-12-06")
    again = hook(key, "Backup done", "text/plain", HTTP_IDEMPOTENCY_KEY="backup-2026-12-06")
    assert sent(first).pk == sent(again).pk
    assert Message.objects.count() == 1


def test_the_idempotency_key_field_repeats_the_first_send(key):
    body = json.dumps({"message": "Backup done", "idempotency_key": "once"})
    assert sent(hook(key, body, "application/json")).pk == sent(hook(key, body, "application/json")).pk
    assert Message.objects.count() == 1


def test_an_idempotency_key_reused_for_another_message_is_4009(key):
    sent(hook(key, "Backup done", "text/plain", HTTP_IDEMPOTENCY_KEY="once"))
    response = hook(key, "Backup failed", "text/plain", HTTP_IDEMPOTENCY_KEY="once")
    assert (response.status_code, status_of(response)) == (400, 4009)


def test_get_is_4005_with_allow_post(key):
    response = Client().get(f"/v1/hooks/{key}")
    assert (response.status_code, status_of(response), response["Allow"]) == (405, 4005, "POST")


def test_replace_takes_the_place_of_an_earlier_message_in_the_inbox(key, bob):
    first = sent(hook(key, "Backup running", "text/plain"))
    second = sent(hook(key, json.dumps({"message": "Backup done", "replace": first.pk}), "application/json"))
    assert second.pk != first.pk
    assert [item["message"] for item in inbox(bob)] == ["Backup done"]
