from .models import Message


def inbox_page(*, user, after=None, before=None, limit=50):
    """The user's messages newest first, with ids strictly between `after` and `before`."""
    messages = Message.objects.filter(recipient=user).select_related("channel")
    if after is not None:
        messages = messages.filter(id__gt=after)
    if before is not None:
        messages = messages.filter(id__lt=before)
    return list(messages.order_by("-id")[:limit])


def inbox_message(*, user, message_id):
    """The user's message with this id, or None (also for anyone else's message)."""
    return Message.objects.filter(recipient=user, id=message_id).first()


def unread_count(user):
    return Message.objects.filter(recipient=user, read_at__isnull=True).count()
