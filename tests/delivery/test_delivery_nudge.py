"""Coalesced nudges: while a task waits in the queue, sends queue no other; that task claims them all."""

import pytest
from django.test import override_settings

from messaging import queueing
from messaging.models import Delivery
from tests.delivery_fixtures import queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def send_ok(send, valid_fields, **fields):
    response = send({**valid_fields, **fields})
    assert response.status_code == 200, response.content
    return int(response.json()["response"]["id"])


def test_sends_while_a_task_waits_queue_no_other(send, valid_fields):
    for i in range(5):
        send_ok(send, valid_fields, message=f"#{i}")
    assert len(queued_tasks()) == 1


def test_the_waiting_task_delivers_every_message_sent_before_it_started(push_settings, fcm, send, valid_fields):
    ids = [send_ok(send, valid_fields, message=f"#{i}") for i in range(5)]
    queueing.deliver_batch(ids[0])
    assert set(Delivery.objects.filter(message_id__in=ids).values_list("state", flat=True)) == {Delivery.ACCEPTED}
    assert len(fcm.script.pushes) == 5


def test_a_send_after_the_task_started_queues_a_new_one(push_settings, fcm, send, valid_fields):
    first = send_ok(send, valid_fields)
    queueing.deliver_batch(first)
    send_ok(send, valid_fields, message="later")
    assert len(queued_tasks()) == 2


@override_settings(DELIVERY_BATCH_SIZE=4)
def test_a_full_claim_queues_another_task_for_the_rest(push_settings, fcm, send, valid_fields):
    ids = [send_ok(send, valid_fields, message=f"#{i}") for i in range(5)]
    assert len(queued_tasks()) == 1
    queueing.deliver_batch(ids[0])
    assert Delivery.objects.filter(state=Delivery.ACCEPTED).count() == 5  # the task's window went on claiming
    assert len(queued_tasks()) == 2  # the original nudge (still in Redis here) and one for another worker process


@override_settings(DELIVERY_BATCH_SIZE=4)
def test_a_task_stops_claiming_after_its_time_and_queues_a_fresh_one(push_settings, fcm, send, valid_fields,
                                                                     monkeypatch):
    monkeypatch.setattr(queueing, "WINDOW_FOR", 0.0)
    ids = [send_ok(send, valid_fields, message=f"#{i}") for i in range(5)]
    queueing.deliver_batch(ids[0])
    assert Delivery.objects.filter(state=Delivery.ACCEPTED).count() == 2  # its first half batch only
    assert len(queued_tasks()) == 2  # the original nudge (still in Redis here) and one to carry on


@override_settings(DELIVERY_NUDGE_COALESCE=False)
def test_without_coalescing_every_send_queues_a_task(send, valid_fields):
    for i in range(3):
        send_ok(send, valid_fields, message=f"#{i}")
    assert len(queued_tasks()) == 3
