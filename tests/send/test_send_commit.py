"""An accepted message is committed and its delivery queued before the 200 answer."""

import json

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import transaction

from messaging.models import Message
from messaging.send.service import message_send
from messaging.send.request import SendRequest


def queued_tasks():
    client = redis.Redis.from_url(settings.REDIS_URL)
    return [json.loads(item) for item in client.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1)]


def other_connection():
    db = settings.DATABASES["default"]
    return psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"])


@pytest.mark.django_db(transaction=True)
def test_the_message_is_committed_before_the_answer(send, valid_fields):
    response = send(valid_fields)
    message_id = int(response.json()["response"]["id"])
    with other_connection() as conn:
        row = conn.execute("SELECT text FROM messaging_message WHERE id = %s", [message_id]).fetchone()
    assert row == ("Door bell",)


@pytest.mark.django_db(transaction=True)
def test_the_delivery_is_queued_after_commit(send, valid_fields):
    response = send(valid_fields)
    message_id = response.json()["response"]["id"]
    tasks = queued_tasks()
    assert len(tasks) == 1
    assert message_id in tasks[0]["headers"]["argsrepr"]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_send_queues_nothing(valid_fields):
    request = SendRequest(**valid_fields)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            message_send(request=request)
            raise RuntimeError("the caller's transaction fails")
    assert not Message.objects.exists()
    assert queued_tasks() == []
