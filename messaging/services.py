import logging

from django.db import transaction
from django.utils import timezone

from channels_app.selectors import channel_by_token
from channels_app.services import channel_take_daily_quota, next_utc_midnight
from django.conf import settings
from kilopush.errors import Blacklisted, Blocked, Forbidden, InvalidValue, Throttled
from users_app.models import BlacklistEntry, Device
from users_app.selectors import app_user_by_token

from .models import Delivery, Message

logger = logging.getLogger(__name__)

PUSH_PLATFORMS = (Device.ANDROID, Device.IOS)


def rate_limit_headers(*, limit, count, now):
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(limit - count, 0)),
        "X-RateLimit-Reset": str(int(next_utc_midnight(now).timestamp())),
    }


def message_send(*, request):
    """Accepts one message for delivery; returns (message, extra response headers).

    Checks run in the published precedence: 4003, 4005 (unknown recipient), 4023,
    4024, 4029. The message and its deliveries commit before this returns.
    """
    channel = channel_by_token(request.token)
    if channel is None or not channel.secret_matches(request.secret):
        raise Forbidden("Invalid channel token or secret")
    recipient = app_user_by_token(request.to)
    if recipient is None:
        raise InvalidValue("Unknown recipient")
    if channel.is_blocked or channel.owner.is_blocked:
        raise Blocked("This channel is blocked")
    if recipient.is_blocked:
        raise Blocked("The recipient is blocked")
    if BlacklistEntry.objects.filter(user=recipient, channel=channel).exists():
        raise Blacklisted()

    now = timezone.now()
    headers = {}
    with transaction.atomic():
        if not channel.is_verified:
            limit = settings.CHANNEL_DAILY_LIMIT
            count = channel_take_daily_quota(channel=channel, now=now)
            if count is None:
                raise Throttled(
                    "The channel's daily limit is exhausted", headers=rate_limit_headers(limit=limit, count=limit, now=now)
                )
            headers = rate_limit_headers(limit=limit, count=count, now=now)
        device_ids = list(
            Device.objects.filter(user=recipient, is_active=True, platform__in=PUSH_PLATFORMS)
            .exclude(push_token="")
            .values_list("id", flat=True)
        )
        message = Message.objects.create(
            recipient=recipient,
            channel=channel,
            text=request.message,
            url=request.url,
            important=request.important,
            had_devices=bool(device_ids),
        )
        Delivery.objects.bulk_create([Delivery(message=message, device_id=device_id) for device_id in device_ids])
        if device_ids:
            transaction.on_commit(lambda: enqueue_delivery(message.pk))
    return message, headers


def enqueue_delivery(message_id):
    """Nudges a worker; if the broker is down the sweep re-queues the deliveries later."""
    from .tasks import deliver_message

    try:
        deliver_message.delay(message_id)
    except Exception:
        logger.warning("Could not enqueue message %s; the sweep will pick it up", message_id, exc_info=True)


# The inbox: the recipient's own view of their messages (the app API).


def inbox_mark_read(*, user, message_id):
    """Marks one of the user's messages read; False if there is no such message of theirs."""
    message = Message.objects.filter(recipient=user, id=message_id)
    if not message.exists():
        return False
    message.filter(read_at__isnull=True).update(read_at=timezone.now())
    return True


def inbox_mark_read_up_to(*, user, up_to):
    """Marks every unread message of the user with an id up to `up_to` read; returns how many."""
    return Message.objects.filter(recipient=user, id__lte=up_to, read_at__isnull=True).update(read_at=timezone.now())


def inbox_delete(*, user, message_id):
    """Deletes one of the user's messages (and its deliveries); False if there is no such message of theirs."""
    deleted, _ = Message.objects.filter(recipient=user, id=message_id).delete()
    return bool(deleted)
