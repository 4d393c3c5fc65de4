"""The beat sweep: lost, stale and long-delayed deliveries are queued again, fresh ones left alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import queueing
from messaging.models import Delivery, Message
from tests.delivery_fixtures import queued_tasks


@pytest.fixture
def message(bob, channel):
    message = Message.objects.create(recipient=bob.user, channel=channel, text="Door bell")
    Delivery.objects.create(message=message, device=bob.user.devices.get())
    return message


def age(message, seconds, **fields):
    then = timezone.now() - timedelta(seconds=seconds)
    Delivery.objects.filter(message=message).update(created_at=then, updated_at=then, **fields)


def nudged():
    return [args[0] for name, args, _ in queued_tasks() if name == "messaging.tasks.deliver_message"]


def test_a_delivery_queued_for_over_a_minute_is_queued_again(message):
    age(message, 61)
    assert queueing.sweep() == [message.pk]
    assert nudged() == [message.pk]


def test_a_fresh_delivery_is_left_to_its_task(message):
    age(message, 30)
    assert queueing.sweep() == []
    assert nudged() == []


def test_a_requeued_delivery_is_not_requeued_again_within_a_minute(message):
    age(message, 61)
    queueing.sweep()
    assert queueing.sweep() == []


def test_a_claim_not_renewed_within_the_claim_timeout_goes_back_to_the_queue(message, settings):
    stale = timezone.now() - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT + 1)
    age(message, 400, state=Delivery.SENDING, claimed_at=stale)
    assert queueing.sweep() == [message.pk]
    row = Delivery.objects.get(message=message)
    assert row.state == Delivery.QUEUED
    assert nudged() == [message.pk]


def test_a_recent_claim_is_left_to_its_worker(message, settings):
    recent = timezone.now() - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT / 2)
    age(message, 400, state=Delivery.SENDING, claimed_at=recent)
    assert queueing.sweep() == []
    assert Delivery.objects.get(message=message).state == Delivery.SENDING


def test_a_long_retry_is_queued_when_it_falls_due(message):
    age(message, 600, next_attempt_at=timezone.now() - timedelta(seconds=1))
    Delivery.objects.filter(message=message).update(updated_at=timezone.now() - timedelta(seconds=300))
    assert queueing.sweep() == [message.pk]


def test_a_retry_not_yet_due_is_left_waiting(message):
    age(message, 600, next_attempt_at=timezone.now() + timedelta(seconds=600))
    assert queueing.sweep() == []


def test_finished_deliveries_are_never_queued_again(message):
    age(message, 600, state=Delivery.ACCEPTED)
    assert queueing.sweep() == []
