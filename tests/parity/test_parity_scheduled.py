"""Scheduled delivery (issue 24) on both backends: the id reserved from the messages' own sequence (PostgreSQL's
nextval, SQLite's AUTOINCREMENT counter) and the release's claim (SKIP LOCKED on PostgreSQL; one writer on SQLite)."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from channels_app.services import channel_create
from messaging import scheduling
from messaging.models import Message, ScheduledMessage
from tests.people import make_person

pytestmark = pytest.mark.django_db


def sender():
    bob, channel = make_person(), channel_create(owner=make_person().user, name="Reminders")

    def send(**fields):
        body = {"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "m", **fields}
        response = Client().post("/v1/messages/send", json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content
        return int(response.json()["response"]["id"])

    send.channel = channel
    return send


def later(hours=1):
    return int((timezone.now() + timedelta(hours=hours)).timestamp())


def test_a_scheduled_id_is_never_a_message_id_and_its_release_takes_a_fresh_one():
    send = sender()
    waiting_first = send(at=later())  # on an empty table too
    first = send()
    waiting = send(at=later())
    last = send()
    assert waiting_first < first < waiting < last
    released = scheduling.release_due(now=timezone.now() + timedelta(hours=2))
    assert set(released) == {waiting_first, waiting}
    assert min(released.values()) > last and len(set(released.values())) == 2
    assert not Message.objects.filter(pk__in=[waiting_first, waiting]).exists()
    assert scheduling.release_due(now=timezone.now() + timedelta(hours=2)) == {}
    assert send() > max(released.values())


def test_a_withdrawn_scheduled_message_is_never_released():
    send = sender()
    message_id = send(at=later())
    body = {"token": send.channel.token, "secret": send.channel.secret, "id": str(message_id)}
    response = Client().post("/v1/messages/withdraw", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert scheduling.release_due(now=timezone.now() + timedelta(hours=2)) == {}
    assert ScheduledMessage.objects.get().state == ScheduledMessage.CANCELLED and not Message.objects.exists()
