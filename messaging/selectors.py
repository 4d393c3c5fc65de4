from django.db.models import Exists, OuterRef

from kilopush.queries import count_subquery

from .models import Delivery, Message


def inbox_page(*, user, after=None, before=None, limit=50):
    """The user's messages newest first, with ids strictly between `after` and `before`."""
    messages = Message.objects.filter(recipient=user).select_related("channel")
    if after is not None:
        messages = messages.filter(id__gt=after)
    if before is not None:
        messages = messages.filter(id__lt=before)
    return list(messages.order_by("-id")[:limit])


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
