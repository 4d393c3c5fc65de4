"""Web Push through the pipeline: in-process against PostgreSQL and Redis, then end to end with a real
celery worker (PostgreSQL + Redis, and the embedded SQLite mode) and the stand-in over TLS."""

import json
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from messaging import queueing
from messaging.models import Delivery, Message
from tests.app_api import call
from tests.delivery_fixtures import fake_env
from tests.people import Person, make_person
from tests.procs import base_env, database_url_for, start_worker
from tests.webpush_fixtures import webpush_env
from users_app.models import AppUser, Device

WAIT = 30.0


def register_browser(client, subscription):
    """A person whose only device is this browser subscription, registered through the API."""
    body = call(client, "POST", "/v1/app/register", body={"platform": "web", "subscription": subscription}).json()
    user = AppUser.objects.get(token=body["user_token"])
    return Person(user=user, access_token=body["access_token"], push_token=subscription["endpoint"])


@pytest.fixture
def browser(db, client, webpush_settings, web_subscription):
    return register_browser(client, web_subscription())


@pytest.fixture
def post(send, channel):
    def _post(person, message="Door bell", **fields):
        body = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": message, **fields}
        response = send(body)
        assert response.status_code == 200, response.content
        return Message.objects.get(pk=int(response.json()["response"]["id"]))

    return _post


def test_a_message_reaches_the_browser_as_its_inbox_item(client, webpush, browser, post):
    post(browser, "Earlier")
    message = post(browser, url="https://example.com/door", important=1)
    Delivery.objects.exclude(message=message).delete()
    queueing.deliver_batch(message.pk)
    assert Delivery.objects.get(message=message).state == Delivery.ACCEPTED
    [received] = webpush.script.accepted(browser.push_token)
    [item] = [m for m in call(client, "GET", "/v1/app/messages", browser).json()["messages"] if m["id"] == message.pk]
    del item["read"]
    # The inbox item's rich fields stay in the inbox (a push's message is the Markdown's words); its image is `image`.
    assert (item.pop("format"), item.pop("html"), item.pop("attachment")) == ("text", None, None)
    assert item.pop("from_own_channel") is False  # about the reader's own channels: for the inbox's menu only
    assert received["payload"] == {**item, "image": None, "unread": 2}
    assert received["headers"]["topic"] == f"m{message.pk}"


def test_the_provider_id_is_the_push_services_location(webpush, browser, post):
    message = post(browser)
    queueing.deliver_batch(message.pk)
    assert Delivery.objects.get(message=message).provider_message_id.startswith("https://127.0.0.1:")


def test_a_silent_message_gets_no_web_push_but_the_phone_does(push_settings, fcm, webpush, browser, post, client):
    Device.objects.create(user=browser.user, platform="android", push_token="fcm-browser-owner")
    message = post(browser, silent=1)
    assert list(Delivery.objects.filter(message=message).values_list("device__platform", flat=True)) == ["android"]
    queueing.deliver_batch(message.pk)
    assert webpush.script.pushes == []
    assert len(fcm.script.accepted("fcm-browser-owner")) == 1


def test_a_silent_message_to_a_browser_only_is_inbox_only(webpush, browser, post):
    message = post(browser, silent=1)
    assert not Delivery.objects.filter(message=message).exists()
    assert not message.had_devices


def test_a_gone_subscription_retires_the_browser(webpush, browser, post):
    webpush.unsubscribe(browser.push_token)
    message = post(browser)
    queueing.deliver_batch(message.pk)
    device = browser.user.devices.get()
    assert Delivery.objects.get(message=message).state == Delivery.INVALID_TOKEN
    assert not device.is_active and "410" in device.deactivation_reason
    assert not Delivery.objects.filter(message=post(browser)).exists()


def test_a_429_waits_its_retry_after(webpush, browser, post):
    webpush.script.set_outcomes(browser.push_token, ["rate_limited:600"])
    message = post(browser)
    before = timezone.now()
    queueing.deliver_batch(message.pk)
    row = Delivery.objects.get(message=message)
    assert row.state == Delivery.QUEUED
    assert row.next_attempt_at >= before + timedelta(seconds=600)


def test_a_redirect_rejects_the_delivery_once_and_keeps_the_browser(webpush, browser, post):
    webpush.redirect_location = "http://127.0.0.1:9/elsewhere"
    webpush.script.set_outcomes(browser.push_token, ["redirect", "ok"])
    message = post(browser)
    queueing.deliver_batch(message.pk)
    row = Delivery.objects.get(message=message)
    assert (row.state, row.attempts) == (Delivery.REJECTED, 1)
    assert "307" in row.last_error
    assert browser.user.devices.get().is_active  # the subscription may still be good: only this push failed
    assert [p["answer"] for p in webpush.script.pushes] == ["redirect"]


def test_an_endpoint_on_an_unlisted_port_is_never_posted_to(webpush, browser, post, webpush_settings):
    from messaging import providers

    webpush_settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1", "localhost"]  # port 443 only
    providers.reset()
    message = post(browser)
    queueing.deliver_batch(message.pk)
    assert Delivery.objects.get(message=message).state == Delivery.INVALID_TOKEN
    assert webpush.script.pushes == []


def test_an_endpoint_no_longer_allowed_is_never_posted_to(webpush, browser, post, webpush_settings):
    from messaging import providers

    webpush_settings.WEBPUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com"]
    providers.reset()
    message = post(browser)
    queueing.deliver_batch(message.pk)
    assert Delivery.objects.get(message=message).state == Delivery.INVALID_TOKEN
    assert webpush.script.pushes == []


def test_each_recipient_gets_their_own_unread_count(webpush, browser, post, web_subscription, client):
    stranger = register_browser(client, web_subscription())
    first = post(browser)
    queueing.deliver_batch(first.pk)
    Message.objects.filter(pk=first.pk).update(read_at=timezone.now())
    second, third, other = post(browser), post(browser), post(stranger)
    queueing.deliver_batch(second.pk)  # one batch: browser's two and the stranger's one
    unread = {p["payload"]["id"]: p["payload"]["unread"] for p in webpush.script.accepted()}
    assert unread == {first.pk: 1, second.pk: 2, third.pk: 2, other.pk: 1}


# --- end to end: the send API, a real celery worker, the stand-in over TLS ---


def wait_for_state(message_id, state, worker):
    deadline = time.monotonic() + WAIT
    while (states := list(Delivery.objects.filter(message_id=message_id).values_list("state", flat=True))) != [state]:
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries of {message_id} are {states}\n{worker.log()[-4000:]}")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_sent_message_reaches_the_browser_through_a_worker(transactional_db, client, fcm, apns, webpush, vapid_pem,
                                                             web_subscription, tmp_path, settings):
    for name, value in webpush_env(webpush, vapid_pem).items():
        setattr(settings, name, value.split(",") if name == "WEBPUSH_ENDPOINT_HOSTS" else value)
    subscription = web_subscription()
    body = call(client, "POST", "/v1/app/register", body={"platform": "web", "subscription": subscription}).json()
    owner = make_person()
    from channels_app.services import channel_create

    channel = channel_create(owner=owner.user, name="Front door")
    worker = start_worker(tmp_path, **fake_env(fcm, apns), **webpush_env(webpush, vapid_pem),
                          DATABASE_URL=database_url_for(), REDIS_URL=django_settings.REDIS_URL,
                          DELIVERY_SWEEP_INTERVAL=1, DB_CONN_MAX_AGE=0)
    try:
        send = {"to": body["user_token"], "token": channel.token, "secret": channel.secret, "message": "Ding dong"}
        response = client.post("/v1/messages/send", json.dumps(send), content_type="application/json")
        message_id = int(response.json()["response"]["id"])
        wait_for_state(message_id, Delivery.ACCEPTED, worker)
        [received] = webpush.script.accepted(subscription["endpoint"])
        assert (received["payload"]["id"], received["payload"]["message"]) == (message_id, "Ding dong")
        assert received["payload"]["channel"]["name"] == "Front door"
    finally:
        worker.kill()


EMBEDDED_REGISTER = """
import django, json, sys, urllib.request
django.setup()
from django.test import Client
from channels_app.services import channel_create
from users_app.services import app_user_create
client = Client(HTTP_HOST="127.0.0.1")
key = client.get("/v1/app/webpush").json()["public_key"]
request = urllib.request.Request(sys.argv[1] + "/_fake/subscriptions", json.dumps({"applicationServerKey": key}).encode(),
                                 {"Content-Type": "application/json"})
subscription = json.load(urllib.request.urlopen(request, timeout=10))
registered = client.post("/v1/app/register", json.dumps({"platform": "web", "subscription": subscription}),
                         content_type="application/json")
assert registered.status_code == 201, registered.content
owner, _ = app_user_create()
channel = channel_create(owner=owner, name="Embedded")
body = {"to": registered.json()["user_token"], "token": channel.token, "secret": channel.secret, "message": "Ding dong"}
response = client.post("/v1/messages/send", json.dumps(body), content_type="application/json")
assert response.status_code == 200, response.content
print(response.json()["response"]["id"], subscription["endpoint"])
"""

EMBEDDED_STATE = """
import django, sys
django.setup()
from messaging.models import Delivery
print(Delivery.objects.get(message_id=int(sys.argv[1])).state)
"""


@pytest.mark.slow
def test_the_embedded_mode_pushes_to_a_browser_with_a_generated_key(webpush, tmp_path):
    """SQLite, the filesystem broker, no VAPID key set: web and worker share the one generated in the database."""
    env = base_env(KILOPUSH_VAR_DIR=tmp_path / "var", PYTHONPATH=django_settings.BASE_DIR, **webpush.env)
    run = dict(cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], **run)
    assert migrate.returncode == 0, migrate.stderr
    sent = subprocess.run([sys.executable, "-c", EMBEDDED_REGISTER, webpush.control_url], **run)
    assert sent.returncode == 0, sent.stderr
    message_id, endpoint = sent.stdout.split()
    worker = start_worker(tmp_path, KILOPUSH_VAR_DIR=tmp_path / "var", DELIVERY_SWEEP_INTERVAL=1, **webpush.env)
    try:
        deadline = time.monotonic() + WAIT
        query = [sys.executable, "-c", EMBEDDED_STATE, message_id]
        while (state := subprocess.run(query, **run).stdout.strip()) != "accepted":
            assert time.monotonic() < deadline, f"delivery is {state!r}\n{worker.log()}"
            time.sleep(0.3)
        [received] = webpush.script.accepted(endpoint)
        assert received["payload"]["message"] == "Ding dong"
        assert not (tmp_path / "var" / "vapid-private-key.pem").exists()  # the key is in the database
        with sqlite3.connect(tmp_path / "var" / "kilopush.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM messaging_vapidkey").fetchone() == (1,)
    finally:
        worker.kill()
