import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import attachments, delivery, webhooks
from .inbox_events import inbox_event_record
from .models import Delivery, InboxEvent, Message
from .queueing import nudge_coalesced

logger = logging.getLogger(__name__)



def enqueue_delivery(message_id, *, recipient_id=None):
    """Nudges a worker (at most one waiting nudge at a time) and wakes the recipient's streams; if the
    broker is down the sweep recovers, and the streams find the message by polling. `message_id` None:
    nothing to push (no device), the streams are woken alone."""
    nudge_coalesced(message_id, recipient_id=recipient_id)


def inbox_mark_read(*, user, message_id):
    """Marks one of the user's messages read; False if there is no such message in their inbox.

    The user's other devices learn it from their streams (an InboxEvent in the same transaction).
    """
    with transaction.atomic():
        inbox = Message.objects.in_inbox().filter(recipient=user, id=message_id)
        if inbox.filter(read_at__isnull=True).update(read_at=timezone.now()):
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"ids": [message_id]})
            webhooks.messages_read(user=user, message_ids=[message_id])
            return True
        return inbox.exists()


def inbox_mark_read_up_to(*, user, up_to):
    """Marks every unread message of the user's inbox with an id up to `up_to` read; returns how many."""
    with transaction.atomic():
        unread = Message.objects.in_inbox().filter(recipient=user, id__lte=up_to, read_at__isnull=True)
        ids = list(unread.filter(channel__webhook_url__gt="").values_list("id", flat=True)) if user.read_receipts else []
        count = unread.update(read_at=timezone.now())
        webhooks.messages_read(user=user, message_ids=ids)
        if count:
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"up_to": up_to})
    return count


def inbox_delete(*, user, message_id):
    """The recipient deletes one of their messages; False if there is no such message in their inbox.

    The text and url go; the row stays (its status answers the sender for MESSAGE_STATUS_DAYS).
    """
    if not Message.objects.in_inbox().filter(recipient=user, id=message_id).exists():
        return False
    return bool(inbox_remove(message_ids=[message_id], reason=Message.DELETED))


# --- leaving the inbox: withdraw, expiry, replace and delete all go through inbox_remove ---


def inbox_remove(*, message_ids, reason, now=None):
    """Takes messages out of their recipients' inboxes; returns [(message id, recipient id)] of those removed.

    The one door out of the inbox (withdraw, ttl, replace, the recipient's delete), so every
    removal tells open streams the same way. The rows stay, so the status keeps answering;
    queued pushes end: `expired` for a ttl, `cancelled` otherwise.
    """
    now = now or timezone.now()
    ids = list(message_ids)
    if not ids:
        return []
    blank = {"title": "", "text": "", "url": "", "attachment_url": ""} if reason == Message.DELETED else {}
    with transaction.atomic():
        removed = list(
            Message.objects.select_for_update()
            .filter(id__in=ids, removed_at__isnull=True)
            .order_by("id")
            .values_list("id", "recipient_id")
        )
        if not removed:
            return []
        removed_ids = [message_id for message_id, _ in removed]
        # An uploaded image leaves with the message: its file is deleted once this commits (its URL then 404s).
        attachments.delete_files_on_commit(attachments.files_of(Message.objects.filter(id__in=removed_ids)))
        Message.objects.filter(id__in=removed_ids).update(
            removed_at=now, removed_reason=reason, attachment_file="", attachment_type="", attachment_width=None,
            attachment_height=None, attachment_size=None, **blank
        )
        end_state = Delivery.EXPIRED if reason == Message.EXPIRED else Delivery.CANCELLED
        Delivery.objects.filter(message_id__in=removed_ids, kind=Delivery.PUSH, state=Delivery.QUEUED).update(
            state=end_state, last_error=f"message {reason}", next_attempt_at=None, updated_at=now
        )
        for message_id, recipient_id in removed:  # the recipient's open streams get `deleted`
            inbox_event_record(user_id=recipient_id, kind=InboxEvent.DELETED, data={"id": message_id})
    return removed


def message_withdraw(*, channel_id, message_id, now=None):
    """The sender takes a message back (idempotent): it leaves the inbox, its queued pushes are
    cancelled, and devices that already showed it get a withdraw push. False: not this channel's message.
    """
    now = now or timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(id=message_id, channel_id=channel_id).first()
        if message is None:
            from .scheduling import scheduled_withdraw

            released = scheduled_withdraw(channel_id=channel_id, scheduled_id=message_id, now=now)
            if not released:
                return released is not None  # cancelled for good (or already), or not this channel's
            message = Message.objects.select_for_update().filter(id=released).first()
            if message is None:
                return True  # its message is gone (retention)
        inbox_remove(message_ids=[message.pk], reason=Message.WITHDRAWN, now=now)
        if message.removed_reason not in ("", Message.WITHDRAWN):
            # It had left the inbox otherwise (ttl, replace, delete): the sender's withdraw is what it is now.
            Message.objects.filter(pk=message.pk).update(removed_reason=Message.WITHDRAWN)
            Delivery.objects.filter(message=message, kind=Delivery.PUSH, state=Delivery.QUEUED).update(
                state=Delivery.CANCELLED, last_error="message withdrawn", next_attempt_at=None, updated_at=now
            )
        queued = delivery.queue_withdraw_pushes(message_ids=[message.pk], now=now)
    if queued:
        transaction.on_commit(lambda: enqueue_delivery(message.pk))
    return True


def messages_expire(*, now=None, limit=1000):
    """Beat: takes messages past their ttl out of the inbox; forgets removed ones after MESSAGE_STATUS_DAYS.

    Returns (expired, purged).
    """
    now = now or timezone.now()
    due = list(
        Message.objects.filter(expires_at__lte=now, removed_at__isnull=True)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    )
    expired = inbox_remove(message_ids=due, reason=Message.EXPIRED, now=now)
    keep_after = now - timedelta(days=settings.MESSAGE_STATUS_DAYS)
    old = list(Message.objects.filter(removed_at__lt=keep_after).values_list("id", flat=True)[:limit])
    if old:
        attachments.delete_files_on_commit(attachments.files_of(Message.objects.filter(id__in=old)))
    purged = Message.objects.filter(id__in=old).delete()[1].get(Message._meta.label, 0) if old else 0
    from .scheduling import purge_ended

    purge_ended(before=keep_after)  # scheduled messages withdrawn before, or refused at, their release
    return len(expired), purged
