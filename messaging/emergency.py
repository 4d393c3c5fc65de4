"""Emergency messages (priority 2, issue 24): repeated every `retry` seconds until acknowledged or expired.

The Message row is the truth: emergency_next_at says when the next repeat is due. Beat's tick
(`emergencies_tick`) advances it and, in the same transaction, re-queues one REPEAT delivery per
device that accepted the first push; the pipeline pushes those like any delivery (sweep, claim
timeout and retries included), so a repeat survives a worker's death, and a repeat still queued
or in flight is not queued a second time.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, When
from django.utils import timezone

from . import delivery, webhooks
from .inbox_events import inbox_event_record
from .models import Delivery, InboxEvent, Message

logger = logging.getLogger(__name__)


def _next_repeat(next_at, retry, now):
    """The repeat after `next_at`: on schedule, unless the tick fell a whole period behind (then from now)."""
    following = next_at + timedelta(seconds=retry)
    return following if following > now else now + timedelta(seconds=retry)


def emergencies_tick(*, now=None, limit=500):
    """Beat: re-queues the repeats that are due and ends the emergencies past `expire`.

    Returns (ids of the messages whose repeats were queued, ids of the emergencies that just expired).
    """
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Message.objects.filter(emergency_next_at__isnull=False)
            .filter(Q(emergency_until__lte=now) | Q(removed_at__isnull=False) | Q(acknowledged_at__isnull=False))
            .select_for_update(skip_locked=True)
            .values_list("id", "emergency_until", "acknowledged_at", "removed_at")[:limit]
        )
        if expired:
            Message.objects.filter(id__in=[row[0] for row in expired]).update(emergency_next_at=None)
        ran_out = [m for m, until, acked, removed in expired if acked is None and removed is None and until <= now]
        due = list(
            Message.objects.filter(emergency_next_at__lte=now, emergency_until__gt=now, acknowledged_at__isnull=True,
                                   removed_at__isnull=True)
            .order_by("emergency_next_at")
            .select_for_update(skip_locked=True)
            .values_list("id", "emergency_next_at", "emergency_retry")[:limit]
        )
        if due:
            Message.objects.filter(id__in=[m for m, _, _ in due]).update(
                emergency_next_at=Case(*(When(id=m, then=_next_repeat(at, retry, now)) for m, at, retry in due))
            )
            _queue_repeats([m for m, _, _ in due], now)
        if ran_out:
            channels = dict(Message.objects.filter(id__in=ran_out).values_list("id", "channel_id"))
            webhooks.event_record(channel_ids=[channels[m] for m in ran_out], type=webhooks.EXPIRED,
                                  message_ids=ran_out, now=now)
    queued = [m for m, _, _ in due]
    if queued:
        from .queueing import nudge

        batch = max(settings.DELIVERY_BATCH_SIZE, 1)
        transaction.on_commit(lambda: [nudge(m) for m in queued[::batch]])  # a claim takes a batch of any message's
    return queued, ran_out


def _queue_repeats(message_ids, now):
    """One queued REPEAT per device that accepted the message's push; one still queued or sending is left alone."""
    pushed = Delivery.objects.filter(message_id__in=message_ids, kind=Delivery.PUSH, state=Delivery.ACCEPTED)
    delivery.queue_again(set(pushed.values_list("message_id", "device_id")), Delivery.REPEAT, now=now)


def message_acknowledge(*, user, message_id, now=None):
    """The recipient acknowledges a message (idempotent): it is read, and an emergency's repeats stop.

    False if there is no such message in the user's inbox. The user's other devices learn it from their
    streams (`acknowledged`, and `read` if it was unread), and every device that showed it gets a dismiss
    push; its queued pushes and repeats are cancelled, and beat's tick queues no more.
    """
    now = now or timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.in_inbox(now).select_for_update().filter(recipient=user, id=message_id)
            .only("id", "read_at", "acknowledged_at", "channel_id").first()
        )
        if message is None:
            return False
        if message.acknowledged_at is not None:
            return True
        Message.objects.filter(pk=message.pk).update(
            acknowledged_at=now, emergency_next_at=None, read_at=message.read_at or now
        )
        # A push or repeat not yet sent never alarms a device after the answer (one in flight gets a dismiss).
        Delivery.objects.filter(message_id=message.pk, kind__in=(Delivery.PUSH, Delivery.REPEAT),
                                state=Delivery.QUEUED).update(
            state=Delivery.CANCELLED, last_error="acknowledged", next_attempt_at=None, updated_at=now
        )
        if message.read_at is None:
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"ids": [message.pk]})
        inbox_event_record(user_id=user.pk, kind=InboxEvent.ACKNOWLEDGED, data={"id": message.pk})
        if delivery.queue_dismiss_pushes(message_ids=[message.pk], now=now):
            from .queueing import nudge

            transaction.on_commit(lambda: nudge(message.pk))  # the devices that showed it take it away
        webhooks.event_record(channel_ids=[message.channel_id], type=webhooks.ACKNOWLEDGED, message_ids=[message.pk],
                              data={"acknowledged_at": webhooks._iso(now)}, now=now)
    return True
