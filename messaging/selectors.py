from .models import Message


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


def inbox_message(*, user, message_id):
    """The user's message with this id, or None (also for anyone else's message)."""
    return Message.objects.filter(recipient=user, id=message_id).first()


def unread_count(user):
    return Message.objects.filter(recipient=user, read_at__isnull=True).count()
