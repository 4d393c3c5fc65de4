"""Scheduled delivery end to end: the send API, a real `celery worker -B` (beat releases), the `stream` process and
the fake FCM. Before `at` the recipient sees nothing; at `at` the message is pushed, streamed and listed after the
ids the client already has."""

import json
import math
import time

import pytest
from django.conf import settings
from django.test import Client

from tests.app_api import call
from tests.delivery.test_delivery_e2e import WAIT, sender, start_worker  # noqa: F401 (fixtures)
from tests.people import make_person
from tests.procs import database_url_for, start_stream
from tests.stream_support import SseClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
AHEAD = 4  # seconds between the send and `at`: long enough to look before it, short enough to wait for


def pushed(fcm, token):
    return [p for p in fcm.script.accepted(token) if p["message"]["data"].get("type") != "withdraw"]


def wait_until(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def status(channel, message_id):
    body = {"token": channel.token, "secret": channel.secret, "id": str(message_id)}
    return Client().post("/v1/messages/status", json.dumps(body), content_type="application/json").json()[
        "response"]["message"]


def inbox_after(person, after):
    return [m["id"] for m in call(Client(), "GET", f"/v1/app/messages?after={after}", person).json()["messages"]]


def test_a_scheduled_message_stays_hidden_until_at_then_is_pushed_streamed_and_listed(start_worker, sender, fcm,
                                                                                      tmp_path):
    person = make_person(platform="android", push_token="fcm-scheduled")
    stream = start_stream(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL)
    sse = None
    try:
        start_worker(SCHEDULED_RELEASE_INTERVAL="1")
        sse = SseClient(stream.url + "/v1/app/stream", person.access_token)
        sse.wait_for(lambda c: c.comments, what="the opening comment")
        first = sender(person, message="Now")
        sse.wait_for(lambda c: len(c.messages()) == 1, timeout=WAIT, what="the first message")
        wait_until(lambda: len(pushed(fcm, "fcm-scheduled")) == 1, "the first push")

        assert inbox_after(person, first) == []  # (its first call also loads the schema the answers are checked by)
        at = math.ceil(time.time()) + AHEAD
        scheduled_id = sender(person, message="Later", at=at)
        time.sleep(max(at - 1.5 - time.time(), 0))  # shortly before `at`: nothing of it anywhere yet
        assert status(sender.channel, scheduled_id)["state"] == "scheduled"
        assert [e.id for e in sse.messages()] == [str(first)]
        assert len(pushed(fcm, "fcm-scheduled")) == 1
        assert inbox_after(person, first) == []
        assert time.time() < at  # the looks above were all before `at`

        wait_until(lambda: len(pushed(fcm, "fcm-scheduled")) == 2, "the scheduled push")
        push = pushed(fcm, "fcm-scheduled")[1]
        released = int(push["message"]["data"]["message_id"])
        assert push["time"] >= at  # not before its time
        print(f"released {push['time'] - at:.2f} s after at")  # the figure for the report (-s)
        assert released > first and released != scheduled_id
        events = sse.wait_for(lambda c: len(c.messages()) == 2, timeout=WAIT, what="the released message")
        assert [e.id for e in events if e.event == "message"] == [str(first), str(released)]
        assert json.loads(events[-1].data)["message"] == "Later"
        assert inbox_after(person, first) == [released]  # a client polling after its last id sees it
        answer = status(sender.channel, scheduled_id)
        assert (answer["id"], answer["state"]) == (str(scheduled_id), "pushed")
    finally:
        if sse is not None:
            sse.close()
        stream.kill()
