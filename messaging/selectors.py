from django.db.models import Count, Exists, Min, OuterRef

from kilopush.queries import count_subquery

from .models import Delivery, Message, ScheduledMessage


def _inbox_items():
    """Messages as the inbox shows them (with their channel)."""
    return Message.objects.in_inbox().select_related("channel")


def inbox_page(*, user, after=None, before=None, limit=50, oldest_first=False):
    """The user's messages newest first (or oldest first), with ids strictly between `after` and `before`."""
    messages = _inbox_items().filter(recipient=user)
    if after is not None:
        messages = messages.filter(id__gt=after)
    if before is not None:
        messages = messages.filter(id__lt=before)
    return list(messages.order_by("id" if oldest_first else "-id")[:limit])


def inbox_items(ids):
    """The messages with these ids (anyone's: the live stream routes them), oldest first."""
    return list(_inbox_items().filter(id__in=ids).order_by("id"))


def due_deliveries_count(now=None):
    """Deliveries queued and due now (the queue depth the metrics sample)."""
    from django.utils import timezone

    from .delivery import due

    return Delivery.objects.filter(due(now or timezone.now())).count()


def unread_count(user):
    return Message.objects.in_inbox().filter(recipient=user, read_at__isnull=True).count()


# --- staff admin changelist ---


def messages_for_admin(queryset):
    """Messages with their numbers of deliveries and of accepted deliveries (one query)."""
    return queryset.select_related("channel", "recipient").annotate(
        delivery_count=count_subquery(Delivery.objects.all(), "message"),
        accepted_count=count_subquery(Delivery.objects.filter(state=Delivery.ACCEPTED), "message"),
    )


def messages_with_delivery_state(queryset, state):
    """Messages with at least one delivery in `state`; state "none" means inbox-only messages."""
    if state == "none":
        return queryset.filter(~Exists(Delivery.objects.filter(message=OuterRef("pk"))))
    return queryset.filter(Exists(Delivery.objects.filter(message=OuterRef("pk"), state=state)))


# --- the sender's view: POST /v1/messages/status ---


def _state(message, counts, read_at):
    """The published states, first match wins (see docs/send-api.md, "Message status")."""
    if message.removed_reason == Message.WITHDRAWN:
        return "withdrawn"
    if read_at is not None:
        return "read"
    if counts["pushed"] and message.important is not False:
        return "pushed"  # also once its ttl removed it: it was shown
    if message.removed_reason == Message.EXPIRED:
        return "expired"
    if message.important is False:
        return "inbox_only"
    if not counts["total"]:
        # No delivery was made; or every push was cancelled before it went: a replaced message was taken back.
        return "withdrawn" if counts["cancelled"] and message.removed_reason == Message.REPLACED else "inbox_only"
    if counts["queued"]:
        return "queued"
    if counts["failed"] == counts["expired"]:
        return "expired"  # every delivery ran out of time unpushed
    return "failed"


def message_status(*, channel_id, message_id):
    """What the sender may know of one of its messages, or None (not this channel's, or unknown)."""
    message = (
        Message.objects.filter(id=message_id, channel_id=channel_id)
        .select_related("recipient")
        .only("id", "created_at", "read_at", "important", "removed_reason", "recipient__read_receipts",
              "acknowledged_at", "emergency_until", "expires_at")
        .first()
    )
    if message is None:
        return _scheduled_status(channel_id=channel_id, scheduled_id=message_id)
    counts = {"queued": 0, "pushed": 0, "failed": 0, "expired": 0, "cancelled": 0, "total": 0}
    pushed_at = None
    rows = (
        Delivery.objects.filter(message_id=message.pk, kind=Delivery.PUSH)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"), first=Min("updated_at"))
    )
    for state, n, first in rows:
        if state in (Delivery.QUEUED, Delivery.SENDING):
            counts["queued"] += n
        elif state == Delivery.ACCEPTED:
            counts["pushed"] += n
            pushed_at = first
        elif state == Delivery.CANCELLED:
            counts["cancelled"] += n
            continue
        else:
            counts["failed"] += n
            if state == Delivery.EXPIRED:
                counts["expired"] += n
        counts["total"] += n
    read_at = message.read_at if message.recipient.read_receipts else None
    return {
        "id": str(message.pk),
        "state": _state(message, counts, read_at),
        "created_at": message.created_at,
        "pushed_at": pushed_at,
        "read_at": read_at,
        "devices": {"queued": counts["queued"], "pushed": counts["pushed"], "failed": counts["failed"]},
        # Issue 24: an acknowledgement is the recipient's answer, shown whatever their read_receipts.
        "acknowledged": message.acknowledged_at is not None,
        "acknowledged_at": message.acknowledged_at,
        "expires_at": message.emergency_until or message.expires_at,
    }


def _scheduled_status(*, channel_id, scheduled_id):
    """A send with `at` (issue 24), by the id its sender was given: `scheduled` until its release, then the
    released message's status; `withdrawn` if it was withdrawn before, `failed` if refused at its release."""
    scheduled = (ScheduledMessage.objects.filter(id=scheduled_id, channel_id=channel_id)
                 .only("id", "state", "at", "created_at", "message_id").first())
    if scheduled is None:
        return None
    if scheduled.message_id is not None:
        status = message_status(channel_id=channel_id, message_id=scheduled.message_id)
        if status is not None:
            return {**status, "id": str(scheduled.pk), "at": scheduled.at}
    state = {ScheduledMessage.CANCELLED: "withdrawn", ScheduledMessage.FAILED: "failed"}.get(scheduled.state,
                                                                                            "scheduled")
    return {"id": str(scheduled.pk), "state": state, "created_at": scheduled.created_at, "pushed_at": None,
            "read_at": None, "devices": {"queued": 0, "pushed": 0, "failed": 0}, "acknowledged": False,
            "acknowledged_at": None, "expires_at": None, "at": scheduled.at}
