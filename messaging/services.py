import logging

from django.db import connection, transaction
from django.utils import timezone

from channels_app.selectors import channel_send_context
from channels_app import quota
from kilopush import crypto, metrics
from kilopush.errors import Blacklisted, Blocked, Forbidden, InvalidValue, Throttled
from stream_app import wake as stream_wake
from stream_app.models import InboxEvent
from stream_app.services import inbox_event_record
from users_app.models import Device

from .models import Delivery, Message
from .queueing import nudge_coalesced

logger = logging.getLogger(__name__)

# The hot path writes in plain SQL: the ORM's per-query overhead was most of a send's cost.
_DEVICES_WHERE = f"""
FROM {Device._meta.db_table} d
WHERE d.user_id = %(recipient)s AND d.is_active AND d.platform IN ({", ".join(f"'{p}'" for p in Device.PUSH_PLATFORMS)})
  AND d.push_token <> ''
  AND (d.platform <> '{Device.WEB}' OR (d.web_auth <> '' AND COALESCE(%(important)s, TRUE)))
"""  # browsers must show every push, so silent (important=false) messages get no Web Push
_INSERT_MESSAGE_SQL = f"""
INSERT INTO {Message._meta.db_table} (recipient_id, channel_id, text, url, important, had_devices, created_at)
VALUES (%(recipient)s, %(channel)s, %(text)s, %(url)s, %(important)s, EXISTS (SELECT 1 {_DEVICES_WHERE}), %(now)s)
RETURNING id
"""
_INSERT_DELIVERIES_SQL = f"""
INSERT INTO {Delivery._meta.db_table}
    (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
SELECT %(message)s, d.id, '{Delivery.QUEUED}', 0, '', '', %(now)s, %(now)s {_DEVICES_WHERE}
"""
# PostgreSQL: quota, message and deliveries in one atomic statement (one round trip, no BEGIN/COMMIT).
_STORE_PG_SQL = f"""
WITH quota AS (
    {quota.take_sql(only_if="%(limited)s")}
), message AS (
    INSERT INTO {Message._meta.db_table} (recipient_id, channel_id, text, url, important, had_devices, created_at)
    SELECT %(recipient)s, %(channel)s, %(text)s, %(url)s, %(important)s, EXISTS (SELECT 1 {_DEVICES_WHERE}), %(now)s
    WHERE NOT %(limited)s OR EXISTS (SELECT 1 FROM quota)
    RETURNING id
), deliveries AS (
    INSERT INTO {Delivery._meta.db_table}
        (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
    SELECT message.id, d.id, '{Delivery.QUEUED}', 0, '', '', %(now)s, %(now)s FROM message, ({_DEVICES_WHERE.replace("FROM", "SELECT d.id FROM", 1)}) d
    RETURNING 1
)
SELECT (SELECT id FROM message), (SELECT count FROM quota), (SELECT count(*) FROM deliveries)
"""


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
    params = {
        "recipient": context.recipient_id,
        "channel": context.channel_id,
        "text": request.message,
        "url": request.url,
        "important": request.important,
        "now": connection.ops.adapt_datetimefield_value(now),  # raw SQL: as the ORM would store it
        **quota.take_params(channel_id=context.channel_id, now=now),
        "limited": quota.is_limited(verified=context.channel_verified),
    }
    if connection.vendor == "postgresql":
        message_id, count, deliveries = _store_in_one_statement(params)
    else:
        message_id, count, deliveries = _store_in_a_transaction(params, channel_id=context.channel_id, now=now)
    headers = {}
    limit = quota.daily_limit(verified=context.channel_verified)
    if limit is not None:
        headers = quota.rate_limit_headers(limit=limit, count=limit if count is None else count, now=now)
        if message_id is None:
            raise Throttled("The channel's daily limit is exhausted", headers=headers)
    metrics.message_accepted(context.channel_verified)
    recipient_id = context.recipient_id
    if deliveries:
        transaction.on_commit(lambda: enqueue_delivery(message_id, recipient_id=recipient_id))
    else:
        transaction.on_commit(lambda: stream_wake.publish(stream_wake.MESSAGE, recipient_id))
    return message_id, headers


def _store_in_one_statement(params):
    """Returns (message id or None when over the limit, today's count or None, deliveries queued)."""
    with connection.cursor() as cursor:
        cursor.execute(_STORE_PG_SQL, params)
        return cursor.fetchone()


def _store_in_a_transaction(params, *, channel_id, now):
    """The same for databases without data-modifying CTEs (the embedded SQLite)."""
    with transaction.atomic(), connection.cursor() as cursor:
        count = None
        if params["limited"]:
            count = quota.channel_take_daily_quota(channel_id=channel_id, now=now)
            if count is None:
                return None, None, 0
        cursor.execute(_INSERT_MESSAGE_SQL, params)
        message_id = cursor.fetchone()[0]
        cursor.execute(_INSERT_DELIVERIES_SQL, {**params, "message": message_id})
        return message_id, count, cursor.rowcount


def enqueue_delivery(message_id, *, recipient_id=None):
    """Nudges a worker (at most one waiting nudge at a time) and wakes the recipient's streams; if the
    broker is down the sweep recovers, and the streams find the message by polling."""
    nudge_coalesced(message_id, recipient_id=recipient_id)


def inbox_mark_read(*, user, message_id):
    """Marks one of the user's messages read; False if there is no such message of theirs.

    The user's other devices learn it from their streams (an InboxEvent in the same transaction).
    """
    with transaction.atomic():
        if Message.objects.filter(recipient=user, id=message_id, read_at__isnull=True).update(read_at=timezone.now()):
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"ids": [message_id]})
            return True
        return Message.objects.filter(recipient=user, id=message_id).exists()


def inbox_mark_read_up_to(*, user, up_to):
    """Marks every unread message of the user with an id up to `up_to` read; returns how many."""
    with transaction.atomic():
        count = Message.objects.filter(recipient=user, id__lte=up_to, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        if count:
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"up_to": up_to})
    return count


def inbox_delete(*, user, message_id):
    """Deletes one of the user's messages (and its deliveries); False if there is no such message of theirs."""
    with transaction.atomic():
        deleted, _ = Message.objects.filter(recipient=user, id=message_id).delete()
        if deleted:
            inbox_event_record(user_id=user.pk, kind=InboxEvent.DELETED, data={"id": message_id})
    return bool(deleted)
