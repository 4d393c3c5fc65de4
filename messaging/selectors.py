from django.db.models import Exists, OuterRef

from kilopush.queries import count_subquery

from .models import Delivery, Message


def _inbox_items():
    """Messages as the inbox shows them (with their channel)."""
    return Message.objects.select_related("channel")


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
    return Message.objects.filter(recipient=user, read_at__isnull=True).count()


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
