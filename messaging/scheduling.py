"""Scheduled delivery (issue 24): a send with `at` waits in ScheduledMessage, and is released at its time.

Recipients read their inbox, the live stream and the app API's pages in id order, and resume from the
last id they saw. A message inserted at send time and shown later would be older than ids they passed,
so they would never see it. So the scheduled message waits in a table of its own, under an id taken
from the messages' own sequence (the id the sender is given never names another message), and the
release inserts the real message through the send's own INSERT with a fresh id, the newest of the
inbox: it is shown, streamed and pushed like any message. Every path a sender uses (status, withdraw,
idempotent repeats, webhooks) knows it by the first id (ScheduledMessage.message links the two).

The release runs on beat every SCHEDULED_RELEASE_INTERVAL seconds and claims due rows with SKIP LOCKED
and a conditional UPDATE (scheduled -> released), so concurrent releasers release each message once, and
a release lost with its worker is the next tick's work (the row is the truth).
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app import quota
from channels_app.models import Channel
from users_app.models import AppUser, BlacklistEntry

from . import attachments, services, webhooks
from .send import service as send_service, sql as send_sql
from .models import Message, ScheduledMessage

logger = logging.getLogger(__name__)


# --- the id: one id space with the messages ---


def reserve_message_id():
    """An id no message has or will have: the messages' next id, taken without a message.

    PostgreSQL: nextval of the messages' id sequence. SQLite (the embedded default): Django declares the
    id AUTOINCREMENT, so SQLite never hands out an id at or below the one sqlite_sequence holds; raising
    that number by one reserves it (in the caller's transaction, which SQLite runs one writer at a time).
    """
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [table])
            return cursor.fetchone()[0]
        with transaction.atomic():
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) SELECT %s, COALESCE((SELECT MAX(id) FROM "
                           f"{connection.ops.quote_name(table)}), 0) WHERE NOT EXISTS "
                           "(SELECT 1 FROM sqlite_sequence WHERE name = %s)", [table, table])
            cursor.execute("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = %s", [table])
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            return cursor.fetchone()[0]


# --- the send ---


def message_schedule(*, request, context, collapse_id, upload, now):
    """Stores a send whose `at` is ahead (the checks of message_send passed); returns (id, response headers).

    The quota (and an upload's bytes) count now, once; the release counts nothing again.
    """
    limit = quota.daily_limit(verified=context.channel_verified)
    name = attachments.store(upload) if upload is not None else ""
    stored = False
    try:
        for attempt in (1, 2, 3):
            try:
                with transaction.atomic():
                    scheduled_id, count = _store(request, context=context, collapse_id=collapse_id, upload=upload,
                                                 name=name, now=now)
                    stored = scheduled_id is not None and count is not send_service.REPEAT
                    break
            except IntegrityError:  # a concurrent send with the same key committed first: look again
                if request.idempotency_key is None or attempt == 3:
                    raise
    finally:
        if not stored and name:
            attachments.delete_files([name])
    if count is send_service.REPEAT:
        return scheduled_id, send_service.current_headers(context.channel_id, limit, now)
    return scheduled_id, send_service.quota_answer(context, scheduled_id, count, limit=limit, now=now)


def _store(request, *, context, collapse_id, upload, name, now):
    """(id, today's count, or send_service.REPEAT for a repeat); (None, None) over the daily limit."""
    if request.idempotency_key is not None:
        repeat = send_service.repeat_of(request, channel_id=context.channel_id, recipient_id=context.recipient_id,
                                        now=now, params=_compared(request, upload))
        if repeat is not None:
            return repeat, send_service.REPEAT
    count = None
    if quota.is_limited(verified=context.channel_verified):
        count = quota.channel_take_daily_quota(channel_id=context.channel_id, now=now)
        if count is None:
            return None, None
    if upload is not None:
        attachments.take_daily_bytes(channel_id=context.channel_id, size=upload.size, now=now)
    scheduled_id = reserve_message_id()
    ScheduledMessage.objects.create(
        id=scheduled_id, channel_id=context.channel_id, recipient_id=context.recipient_id, at=request.at,
        created_at=now, idempotency_key=request.idempotency_key, title=request.title, text=request.message,
        url=request.url, format=request.format, attachment_url=request.attachment_url, important=request.important,
        priority=request.priority, emergency_retry=request.retry, emergency_expire=request.expire,
        actions=send_service.actions_json(request), ttl=request.ttl, replace=request.replace, collapse_id=collapse_id,
        **({"attachment_file": name, "attachment_type": upload.content_type, "attachment_width": upload.width,
            "attachment_height": upload.height, "attachment_size": upload.size} if upload is not None else {}),
    )
    return scheduled_id, count


def _compared(request, upload):
    """The columns a repeat compares (send_service.REPEAT_COMPARED), as this send would store them."""
    values = {"format": request.format, "attachment_url": request.attachment_url, "priority": request.priority,
              "attachment_type": "", "attachment_width": None, "attachment_height": None, "attachment_size": None}
    if upload is not None:
        values.update(attachment_type=upload.content_type, attachment_width=upload.width,
                      attachment_height=upload.height, attachment_size=upload.size)
    return values


# --- the release ---


def _refusals(rows):
    """{scheduled id: why it must not be delivered any more} (blocked by staff, blacklisted since), for a batch."""
    channels = {row.channel_id for row in rows}
    recipients = {row.recipient_id for row in rows}
    blocked_channels = set(Channel.objects.filter(Q(is_blocked=True) | Q(owner__is_blocked=True), id__in=channels)
                           .values_list("id", flat=True))
    blocked_recipients = set(AppUser.objects.filter(id__in=recipients, is_blocked=True).values_list("id", flat=True))
    blacklisted = set(BlacklistEntry.objects.filter(user_id__in=recipients, channel_id__in=channels)
                      .values_list("user_id", "channel_id"))
    refusals = {}
    for row in rows:
        if row.channel_id in blocked_channels:
            refusals[row.pk] = "channel blocked"
        elif row.recipient_id in blocked_recipients:
            refusals[row.pk] = "recipient blocked"
        elif (row.recipient_id, row.channel_id) in blacklisted:
            refusals[row.pk] = "blacklisted by the recipient"
    return refusals


def _insert(scheduled, now):
    """The real message and its deliveries, by the send's own statements; returns (message id, deliveries)."""
    when = connection.ops.adapt_datetimefield_value
    retry, expire, ttl = scheduled.emergency_retry, scheduled.emergency_expire, scheduled.ttl
    params = {
        "recipient": scheduled.recipient_id, "channel": scheduled.channel_id, "title": scheduled.title,
        "text": scheduled.text, "url": scheduled.url, "format": scheduled.format,
        **{column: getattr(scheduled, column) for column in attachments.blank_fields()},
        "important": scheduled.important, "priority": scheduled.priority, "emergency_retry": retry,
        # The emergency's repeats and the ttl start now, with the delivery.
        "emergency_until": when(now + timedelta(seconds=expire)) if retry else None,
        "emergency_next_at": when(now + timedelta(seconds=retry)) if retry else None,
        "actions": scheduled.actions, "now": when(now), "idempotency_key": None,
        "expires_at": when(now + timedelta(seconds=ttl)) if ttl else None, "collapse_id": scheduled.collapse_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(send_sql.INSERT_MESSAGE, params)
        message_id = cursor.fetchone()[0]
        cursor.execute(send_sql.INSERT_DELIVERIES, {**params, "message": message_id})
        return message_id, cursor.rowcount


RELEASE_BATCH = 50  # scheduled messages per transaction: each batch is announced (pushed, streamed) as it commits

_TABLE = ScheduledMessage._meta.db_table
# Claims due rows: picked skipping rows another releaser (or a withdraw) holds, and taken only if still scheduled.
_CLAIM_SQL = f"""
UPDATE {_TABLE} SET state = '{ScheduledMessage.RELEASED}', released_at = %(now)s
WHERE id IN (
    SELECT id FROM {_TABLE} WHERE state = '{ScheduledMessage.SCHEDULED}' AND "at" <= %(now)s
    ORDER BY "at", id LIMIT %(limit)s {{lock}}
) AND state = '{ScheduledMessage.SCHEDULED}'
RETURNING id
"""


def release_due(*, now=None, limit=RELEASE_BATCH):
    """Beat: delivers the scheduled messages whose time has come; returns {scheduled id: message id or None}.

    Exactly once: each batch is claimed by one conditional UPDATE (scheduled -> released) of rows picked
    with SKIP LOCKED, in the transaction that inserts their messages. None: it was not delivered
    (blocked or blacklisted since).
    """
    now = now or timezone.now()
    released = {}
    while True:
        batch, claimed = _release_batch(now, limit)
        released.update(batch)
        if claimed < limit:
            break
    if released:
        logger.info("Released %d scheduled messages", len(released))
    return released


def _release_batch(now, limit):
    """(the batch's {scheduled id: message id or None}, how many rows it claimed)."""
    released, nudges = {}, []
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""  # SQLite: one writer at a time
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL.format(lock=lock),
                           {"now": connection.ops.adapt_datetimefield_value(now), "limit": limit})
            claimed = [row[0] for row in cursor.fetchall()]
        if not claimed:
            return {}, 0
        rows = list(ScheduledMessage.objects.filter(id__in=claimed).order_by("at", "id"))
        refusals = _refusals(rows)
        delivered = []
        for scheduled in rows:
            if scheduled.pk in refusals:
                _fail(scheduled, refusals[scheduled.pk], now)
                released[scheduled.pk] = None
                continue
            message_id, deliveries = _insert(scheduled, now)
            scheduled.message_id = message_id
            delivered.append(scheduled)
            if scheduled.replace is not None:
                services.inbox_remove(message_ids=[scheduled.replace], reason=Message.REPLACED, now=now)
            released[scheduled.pk] = message_id
            nudges.append((message_id, scheduled.recipient_id, deliveries))
        ScheduledMessage.objects.bulk_update(delivered, ["message"])
        transaction.on_commit(lambda: [send_service.announce_stored(m, recipient_id=r, deliveries=d)
                                       for m, r, d in nudges])
    return released, len(claimed)


def _fail(scheduled, reason, now):
    ScheduledMessage.objects.filter(pk=scheduled.pk).update(state=ScheduledMessage.FAILED, reason=reason, ended_at=now,
                                                            **attachments.blank_fields())
    attachments.delete_files_on_commit([scheduled.attachment_file])
    webhooks.event_record(channel_ids=[scheduled.channel_id], type=webhooks.FAILED, message_ids=[scheduled.pk],
                          data={"reason": reason}, now=now)


# --- the sender's paths ---


def scheduled_withdraw(*, channel_id, scheduled_id, now):
    """The sender withdraws a scheduled message: cancelled for good before its release.

    Returns None when `scheduled_id` is not a scheduled message of this channel, the released message's id
    when it was released (the caller withdraws that one), else 0 (cancelled now, or before, or failed).
    Call it in a transaction: the row stays locked, so a release waits (or skips it) until that commits.
    """
    scheduled = ScheduledMessage.objects.select_for_update().filter(id=scheduled_id, channel_id=channel_id).first()
    if scheduled is None:
        return None
    if scheduled.state == ScheduledMessage.RELEASED:
        return scheduled.message_id
    if scheduled.state == ScheduledMessage.SCHEDULED:
        ScheduledMessage.objects.filter(pk=scheduled.pk, state=ScheduledMessage.SCHEDULED).update(
            state=ScheduledMessage.CANCELLED, ended_at=now, **attachments.blank_fields())
        attachments.delete_files_on_commit([scheduled.attachment_file])
    return 0


def sender_ids(message_ids):
    """{released message id: the id its sender was given} for those of `message_ids` that were scheduled."""
    return dict(ScheduledMessage.objects.filter(message_id__in=list(message_ids)).values_list("message_id", "id"))


def purge_ended(*, before):
    """Cancelled and failed scheduled messages whose status is no longer kept; released ones go with their message."""
    return ScheduledMessage.objects.filter(ended_at__lt=before).delete()[0]


def files_of_pending(**filters):
    """The stored attachments of scheduled messages not yet released (a channel or an account being deleted)."""
    return attachments.files_of(ScheduledMessage.objects.filter(state=ScheduledMessage.SCHEDULED, **filters))

