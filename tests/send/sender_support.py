"""Real processes for the sender-control tests: gunicorn, a celery worker with beat, the FCM and APNs stand-ins.

Everything goes through HTTP as a client would; the database is read only to check what was stored.
"""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from django.conf import settings

from channels_app.services import channel_create
from messaging.models import Message
from tests.people import make_person
from tests.delivery_fixtures import fake_env
from tests.procs import database_url_for, start_gunicorn, start_worker

WAIT = 30.0

# Short intervals so the beat tasks (delivery sweep, message expiry) run within a test.
WORKER_ENV = {
    "DELIVERY_RETRY_BASE_DELAY": "0.2",
    "DELIVERY_SWEEP_INTERVAL": "1",
    "DELIVERY_REQUEUE_AFTER": "2",
    "DELIVERY_CLAIM_TIMEOUT": "5",
    "MESSAGE_EXPIRY_INTERVAL": "1",
    "DB_CONN_MAX_AGE": "0",
}


def post(url, body, *, form=False, headers=None, timeout=30):
    """(HTTP status, decoded JSON) of a POST; never raises on an HTTP error."""
    data = urlencode(body) if form else json.dumps(body)
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    request = urllib.request.Request(
        url, data=data.encode(), method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def call(method, url, access_token, body=None, timeout=30):
    """An app API call with a Bearer token: (HTTP status, decoded JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {access_token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def wait_until(predicate, what, timeout=WAIT, logs=()):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = "\n".join(proc.log()[-3000:] for proc in logs)
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.1)


def time_travel_expiry(message_id, seconds_ago=1):
    """The test cannot wait out the shortest ttl (60 s): it moves the message's expiry into the past."""
    from datetime import timedelta

    from django.utils import timezone

    Message.objects.filter(pk=message_id).update(expires_at=timezone.now() - timedelta(seconds=seconds_ago))


class Stack:
    def __init__(self, tmp_path, fcm, apns):
        self.tmp_path, self.fcm, self.apns = tmp_path, fcm, apns
        self.procs = []
        self.env = {**fake_env(fcm, apns), "DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL,
                    **WORKER_ENV}
        self.web = start_gunicorn(tmp_path, **self.env)
        self.procs.append(self.web)
        self.url = self.web.url
        owner = make_person()
        self.channel = channel_create(owner=owner.user, name="Front door")
        self.worker = None

    def start_worker(self, **env):
        self.worker = start_worker(self.tmp_path, **{**self.env, **env})
        self.procs.append(self.worker)
        return self.worker

    def credentials(self, channel=None):
        channel = channel or self.channel
        return {"token": channel.token, "secret": channel.secret}

    def send(self, person, *, headers=None, form=False, expect=200, **fields):
        body = {"to": person.token, **self.credentials(), "message": "Ding dong", **fields}
        status, answer = post(self.url + "/v1/messages/send", body, form=form, headers=headers)
        assert status == expect, answer
        return answer["response"]["id"] if expect == 200 else answer

    def status(self, message_id, channel=None):
        status, answer = post(self.url + "/v1/messages/status", {**self.credentials(channel), "id": message_id})
        assert status == 200, answer
        return answer["response"]["message"]

    def withdraw(self, message_id, channel=None):
        return post(self.url + "/v1/messages/withdraw", {**self.credentials(channel), "id": message_id})

    def app(self, method, path, person, body=None):
        return call(method, self.url + path, person.access_token, body)

    def wait_state(self, message_id, state, timeout=WAIT):
        return wait_until(
            lambda: (s := self.status(message_id))["state"] == state and s, f"message {message_id} to be {state}",
            timeout=timeout, logs=self.procs,
        )

    def close(self):
        for proc in reversed(self.procs):
            proc.kill()


@pytest.fixture
def stack(transactional_db, fcm, apns, tmp_path):
    platform = Stack(tmp_path, fcm, apns)
    yield platform
    platform.close()
