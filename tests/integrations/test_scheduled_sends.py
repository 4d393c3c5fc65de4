"""Issue 24, scheduled delivery through the integrations: ntfy's At/X-At, In/X-In, Delay/X-Delay (a Unix time or a
duration) and JSON `delay`; the hook's send API fields take `at`."""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from messaging.models import Message, ScheduledMessage

pytestmark = pytest.mark.django_db


def unix(delta):
    return int((timezone.now() + delta).timestamp())


@pytest.mark.parametrize("header, value, ahead", [
    ("HTTP_X_DELAY", "30m", timedelta(minutes=30)),
    ("HTTP_DELAY", "2h", timedelta(hours=2)),
    ("HTTP_X_IN", "1d", timedelta(days=1)),
    ("HTTP_X_DELAY", "1h30m", timedelta(minutes=90)),
    ("HTTP_X_AT", None, timedelta(hours=3)),
], ids=["x-delay", "delay", "x-in", "go-duration", "x-at-unix"])
def test_ntfy_schedules_with_its_delay_headers(key, header, value, ahead):
    value = value or str(unix(ahead))
    response = Client().generic("POST", f"/{key}", b"Backup starts", content_type="text/plain", **{header: value})
    assert response.status_code == 200, response.content
    row = ScheduledMessage.objects.get(pk=int(response.json()["id"]))
    assert abs(row.at - (timezone.now() + ahead)) < timedelta(seconds=5)
    assert abs(response.json()["time"] - row.at.timestamp()) < 1  # ntfy answers the delivery time
    assert not Message.objects.exists()


def test_ntfy_json_publishing_takes_delay(key):
    body = {"topic": key, "message": "Later", "delay": "10m"}
    response = Client().post("/", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert ScheduledMessage.objects.get(pk=int(response.json()["id"])).text == "Later"


@pytest.mark.parametrize("value", ["tomorrow", "40d", str(2**40)])
def test_ntfy_an_invalid_delay_is_400_ntfy_shaped(key, value):
    response = Client().generic("POST", f"/{key}?" + urlencode({"delay": value}), b"x", content_type="text/plain")
    assert (response.status_code, response.json()["code"]) == (400, 40001), response.content
    assert not ScheduledMessage.objects.exists()


def test_the_hook_takes_the_send_apis_at(key):
    body = {"message": "Later", "at": unix(timedelta(hours=1))}
    response = Client().post(f"/v1/hooks/{key}", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert ScheduledMessage.objects.get(pk=int(response.json()["response"]["id"])).text == "Later"
    assert not Message.objects.exists()
