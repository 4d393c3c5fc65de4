import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from channels_app.selectors import channel_send_context
from channels_app.services import channel_take_daily_quota, next_utc_midnight
from kilopush import crypto
from kilopush.errors import Blacklisted, Blocked, Forbidden, InvalidValue, Throttled
from users_app.models import Device

from .models import Delivery, Message

logger = logging.getLogger(__name__)

PUSH_PLATFORMS = (Device.ANDROID, Device.IOS)

# The hot path writes in plain SQL: the ORM's per-query overhead was most of a send's cost.
_DEVICES_WHERE = f"""
FROM {Device._meta.db_table} d
WHERE d.user_id = %s AND d.is_active AND d.platform IN ('{Device.ANDROID}', '{Device.IOS}') AND d.push_token <> ''
"""
_INSERT_MESSAGE_SQL = f"""
INSERT INTO {Message._meta.db_table} (recipient_id, channel_id, text, url, important, had_devices, created_at)
VALUES (%s, %s, %s, %s, %s, EXISTS (SELECT 1 {_DEVICES_WHERE}), %s)
RETURNING id
"""
_INSERT_DELIVERIES_SQL = f"""
INSERT INTO {Delivery._meta.db_table}
    (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
SELECT %s, d.id, '{Delivery.QUEUED}', 0, '', '', %s, %s {_DEVICES_WHERE}
"""


def rate_limit_headers(*, limit, count, now):
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(limit - count, 0)),
        "X-RateLimit-Reset": str(int(next_utc_midnight(now).timestamp())),
    }


def message_send(*, request):
    """Accepts one message for delivery; returns (message id, extra response headers).

    Checks run in the published precedence: 4003, 4005 (unknown recipient), 4023,
    4024, 4029. The message and one queued Delivery per active device commit before
    this returns; a worker is nudged after the commit.
    """
    context = channel_send_context(channel_token=request.token, recipient_token=request.to)
    if context is None or not crypto.digests_match(request.secret, context.secret_digest):
        raise Forbidden("Invalid channel token or secret")
    if context.recipient_id is None:
        raise InvalidValue("Unknown recipient")
    if context.channel_blocked or context.owner_blocked:
        raise Blocked("This channel is blocked")
    if context.recipient_blocked:
        raise Blocked("The recipient is blocked")
    if context.blacklisted:
        raise Blacklisted()

    now = timezone.now()
    headers = {}
    with transaction.atomic():
        if not context.channel_verified:
            limit = settings.CHANNEL_DAILY_LIMIT
            count = channel_take_daily_quota(channel_id=context.channel_id, now=now)
            if count is None:
                headers = rate_limit_headers(limit=limit, count=limit, now=now)
                raise Throttled("The channel's daily limit is exhausted", headers=headers)
            headers = rate_limit_headers(limit=limit, count=count, now=now)
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_MESSAGE_SQL,
                [
                    context.recipient_id,
                    context.channel_id,
                    request.message,
                    request.url,
                    request.important,
                    context.recipient_id,
                    now,
                ],
            )
            message_id = cursor.fetchone()[0]
            cursor.execute(_INSERT_DELIVERIES_SQL, [message_id, now, now, context.recipient_id])
            if cursor.rowcount:
                transaction.on_commit(lambda: enqueue_delivery(message_id))
    return message_id, headers


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
