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
from django.utils import timezone

from channels_app import quota
from channels_app.models import Channel
from kilopush import metrics
from kilopush.errors import Throttled
from users_app.models import AppUser, BlacklistEntry

from . import attachments, services, webhooks
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
                                                 name=name, now=now, limit=limit)
                    stored = scheduled_id is not None and count is not services.REPEAT
                    break
            except IntegrityError:
                if request.idempotency_key is None or attempt == 3:
                    raise  # a concurrent send with the same key committed first: look again
    finally:
        if not stored and name:
            attachments.delete_files([name])
    if count is services.REPEAT:
        return scheduled_id, services.current_headers(context.channel_id, limit, now)
    headers = {}
    if limit is not None:
        headers = quota.rate_limit_headers(limit=limit, count=limit if count is None else count, now=now)
        if scheduled_id is None:
            raise Throttled("The channel's daily limit is exhausted", headers=headers)
    metrics.message_accepted(context.channel_verified)
    return scheduled_id, headers


def _store(request, *, context, collapse_id, upload, name, now, limit):
    """(id, today's count, or services.REPEAT for a repeat); (None, None) over the daily limit."""
    if request.idempotency_key is not None:
        repeat = services.repeat_of(request, channel_id=context.channel_id, recipient_id=context.recipient_id, now=now,
                                    params=_compared(request, upload))
        if repeat is not None:
            return repeat, services.REPEAT
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
        actions=services.actions_json(request), ttl=request.ttl, replace=request.replace, collapse_id=collapse_id,
        **({"attachment_file": name, "attachment_type": upload.content_type, "attachment_width": upload.width,
            "attachment_height": upload.height, "attachment_size": upload.size} if upload is not None else {}),
    )
    return scheduled_id, count


def _compared(request, upload):
    """The columns a repeat compares (services.REPEAT_COMPARED), as this send would store them."""
    values = {"format": request.format, "attachment_url": request.attachment_url, "priority": request.priority,
              "attachment_type": "", "attachment_width": None, "attachment_height": None, "attachment_size": None}
    if upload is not None:
        values.update(attachment_type=upload.content_type, attachment_width=upload.width,
                      attachment_height=upload.height, attachment_size=upload.size)
    return values


# --- the release ---


def _refusal(scheduled):
    """Why a scheduled message must not be delivered any more (blocked by staff, blacklisted since), or ""."""
    channel_blocked, owner_blocked = Channel.objects.filter(pk=scheduled.channel_id).values_list(
        "is_blocked", "owner__is_blocked").get()
    if channel_blocked or owner_blocked:
        return "channel blocked"
    if AppUser.objects.filter(pk=scheduled.recipient_id, is_blocked=True).exists():
        return "recipient blocked"
    if BlacklistEntry.objects.filter(user_id=scheduled.recipient_id, channel_id=scheduled.channel_id).exists():
        return "blacklisted by the recipient"
    return ""


def _insert(scheduled, now):
    """The real message and its deliveries, by the send's own statements; returns (message id, deliveries)."""
    when = connection.ops.adapt_datetimefield_value
    retry, expire, ttl = scheduled.emergency_retry, scheduled.emergency_expire, scheduled.ttl
    params = {
        "recipient": scheduled.recipient_id, "channel": scheduled.channel_id, "title": scheduled.title,
        "text": scheduled.text, "url": scheduled.url, "format": scheduled.format,
        **{column: getattr(scheduled, column) for column in services.ATTACHMENT_COLUMNS},
        "important": scheduled.important, "priority": scheduled.priority, "emergency_retry": retry,
        # The emergency's repeats and the ttl start now, with the delivery.
        "emergency_until": when(now + timedelta(seconds=expire)) if retry else None,
        "emergency_next_at": when(now + timedelta(seconds=retry)) if retry else None,
        "actions": scheduled.actions, "now": when(now), "idempotency_key": None,
        "expires_at": when(now + timedelta(seconds=ttl)) if ttl else None, "collapse_id": scheduled.collapse_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(services.INSERT_MESSAGE_SQL, params)
        message_id = cursor.fetchone()[0]
        cursor.execute(services.INSERT_DELIVERIES_SQL, {**params, "message": message_id})
        return message_id, cursor.rowcount


def release_due(*, now=None, limit=200):
    """Beat: delivers the scheduled messages whose time has come; returns {scheduled id: message id or None}.

    Exactly once: due rows are picked with SKIP LOCKED and each is claimed by a conditional UPDATE, in
    the transaction that inserts its message. None: it was not delivered (blocked or blacklisted since).
    """
    now = now or timezone.now()
    released, nudges = {}, []
    with transaction.atomic():
        due = list(
            ScheduledMessage.objects.filter(state=ScheduledMessage.SCHEDULED, at__lte=now)
            .order_by("at", "id").select_for_update(skip_locked=True)[:limit]
        )
        for scheduled in due:
            if not ScheduledMessage.objects.filter(pk=scheduled.pk, state=ScheduledMessage.SCHEDULED).update(
                    state=ScheduledMessage.RELEASED, released_at=now):
                continue  # another releaser took it, or the sender withdrew it meanwhile
            refusal = _refusal(scheduled)
            if refusal:
                _fail(scheduled, refusal, now)
                released[scheduled.pk] = None
                continue
            message_id, deliveries = _insert(scheduled, now)
            ScheduledMessage.objects.filter(pk=scheduled.pk).update(message_id=message_id)
            if scheduled.replace is not None:
                services.inbox_remove(message_ids=[scheduled.replace], reason=Message.REPLACED, now=now)
            released[scheduled.pk] = message_id
            nudges.append((message_id, scheduled.recipient_id, deliveries))
    for message_id, recipient_id, deliveries in nudges:
        services.announce_stored(message_id, recipient_id=recipient_id, deliveries=deliveries)
    if released:
        logger.info("Released %d scheduled messages", len(released))
    return released


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

