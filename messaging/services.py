import dataclasses
import hmac
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from channels_app.selectors import channel_send_context, send_context_from_row, send_context_sql, send_key_touch_sql
from channels_app.models import SendKey
from channels_app import quota
from kilopush import crypto, metrics
from kilopush.queries import hot_cursor
from kilopush.errors import Blacklisted, Blocked, Forbidden, IdempotencyKeyReused, InvalidValue, Throttled
from stream_app import wake as stream_wake
from stream_app.models import InboxEvent
from stream_app.services import inbox_event_record
from users_app.models import Device

from . import attachments, bans, delivery, webhooks
from .models import Delivery, Message
from .queueing import nudge_coalesced

logger = logging.getLogger(__name__)

FORBIDDEN = "Invalid channel token or secret"  # unknown token, wrong secret, another channel's message: one answer

# The hot path writes in plain SQL: the ORM's per-query overhead was most of a send's cost.
def _devices_where(recipient):
    """The devices a message to `recipient` (an SQL expression) is pushed to."""
    return f"""
FROM {Device._meta.db_table} d
WHERE d.user_id = {recipient} AND d.is_active AND d.platform IN ({", ".join(f"'{p}'" for p in Device.PUSH_PLATFORMS)})
  AND d.push_token <> ''
  AND (d.platform <> '{Device.WEB}' OR (d.web_auth <> '' AND COALESCE(%(important)s, TRUE)))
"""  # browsers must show every push, so silent (important=false) messages get no Web Push


_DEVICES_WHERE = _devices_where("%(recipient)s")
# An attachment is columns of the message: a send without one writes them empty in the same statement.
ATTACHMENT_COLUMNS = ("attachment_url", "attachment_file", "attachment_type", "attachment_width", "attachment_height",
                       "attachment_size")
_MESSAGE_COLUMNS = "recipient_id, channel_id, title, text, url, important, had_devices, created_at, " \
    "idempotency_key, expires_at, collapse_id, format, " + ", ".join(ATTACHMENT_COLUMNS)
_MESSAGE_COLUMNS += ", priority, emergency_retry, emergency_until, emergency_next_at, actions"  # issue 24's


def _message_values(recipient, channel):
    return f"{recipient}, {channel}, %(title)s, %(text)s, %(url)s, %(important)s, " \
        f"EXISTS (SELECT 1 {_devices_where(recipient)}), %(now)s, %(idempotency_key)s, %(expires_at)s, " \
        "%(collapse_id)s, %(format)s, " + ", ".join(f"%({column})s" for column in ATTACHMENT_COLUMNS) \
        + _ATTENTION_VALUES


_ATTENTION_VALUES = ", %(priority)s, %(emergency_retry)s, %(emergency_until)s, %(emergency_next_at)s, %(actions)s"


def _insert_deliveries(message):
    """INSERT ... SELECT of one queued delivery per device of the message's recipient, from `message` (id, recipient_id)."""
    return f"""
INSERT INTO {Delivery._meta.db_table}
    (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
SELECT {message}.id, d.id, '{Delivery.QUEUED}', 0, '', '', %(now)s, %(now)s
FROM {message}, LATERAL (SELECT d.id {_devices_where(f"{message}.recipient_id")}) d
"""


_MESSAGE_VALUES = _message_values("%(recipient)s", "%(channel)s")
# With an Idempotency-Key, a concurrent duplicate waits for the first one's commit, then inserts nothing.
_ON_KEY_CONFLICT = "ON CONFLICT (channel_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
INSERT_MESSAGE_SQL = f"""
INSERT INTO {Message._meta.db_table} ({_MESSAGE_COLUMNS})
VALUES ({_MESSAGE_VALUES})
{{on_conflict}}
RETURNING id
"""
INSERT_DELIVERIES_SQL = f"""
INSERT INTO {Delivery._meta.db_table}
    (message_id, device_id, state, attempts, provider_message_id, last_error, created_at, updated_at)
SELECT %(message)s, d.id, '{Delivery.QUEUED}', 0, '', '', %(now)s, %(now)s {_DEVICES_WHERE}
"""
# PostgreSQL, after the send context was read: quota, message and deliveries in one atomic statement.
_STORE_PG_SQL = f"""
WITH quota AS (
    {quota.take_sql(only_if="%(limited)s")}
), message AS (
    INSERT INTO {Message._meta.db_table} ({_MESSAGE_COLUMNS})
    SELECT {_MESSAGE_VALUES}
    WHERE NOT %(limited)s OR EXISTS (SELECT 1 FROM quota)
    {{on_conflict}}
    RETURNING id, recipient_id
), deliveries AS ({_insert_deliveries("message")}
    RETURNING 1
)
SELECT (SELECT id FROM message), (SELECT count FROM quota), (SELECT count(*) FROM deliveries)
"""
_STORE_PG_KEYED_SQL = _STORE_PG_SQL.format(on_conflict=_ON_KEY_CONFLICT)
_STORE_PG_SQL = _STORE_PG_SQL.format(on_conflict="")
INSERT_MESSAGE_KEYED_SQL = INSERT_MESSAGE_SQL.format(on_conflict=_ON_KEY_CONFLICT)
INSERT_MESSAGE_SQL = INSERT_MESSAGE_SQL.format(on_conflict="")
# PostgreSQL, a send without Idempotency-Key or replace (nearly all of them): the send context and the
# client's failed-attempt ban (messaging/bans.py) are read and, if every check passes, the quota, the
# message and its deliveries are written, in one statement and one round trip. The secret is compared as its keyed digest (an HMAC with DIGEST_KEY: its timing
# tells nothing about the secret). The checks' order and answers stay in Python (`_refuse_sender`,
# `_refuse_delivery`), read from the context columns the statement returns first.
# A send key's send (hooks, Gotify, ntfy) reads its context by the key's digest and marks the key used.
def _send_pg_sql(*, by_key):
    touch = f"), touched AS ({send_key_touch_sql()}\n    RETURNING 1" if by_key else ""
    return f"""
WITH context AS ({send_context_sql(by_key=by_key)}{touch}
), ban AS ({bans.UNTIL_SQL}
), ok AS (
    SELECT channel_id, recipient_id, channel_verified FROM context
    WHERE secret_digest = %(digest)s AND recipient_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ban)
      AND NOT (channel_blocked OR owner_blocked OR recipient_blocked OR blacklisted)
), quota AS (
    {quota.take_sql(channel="ok.channel_id", source="ok", only_if=quota.limited_sql("ok.channel_verified"))}
), message AS (
    INSERT INTO {Message._meta.db_table} ({_MESSAGE_COLUMNS})
    SELECT {_message_values("ok.recipient_id", "ok.channel_id")}
    FROM ok WHERE NOT ({quota.limited_sql("ok.channel_verified")}) OR EXISTS (SELECT 1 FROM quota)
    RETURNING id, recipient_id
), deliveries AS ({_insert_deliveries("message")}
    RETURNING 1
)
SELECT context.*, (SELECT id FROM message), (SELECT count FROM quota), (SELECT count(*) FROM deliveries),
       (SELECT until FROM ban)
FROM (SELECT 1) AS one LEFT JOIN context ON TRUE
"""


_SEND_PG_SQL = _send_pg_sql(by_key=False)
_SEND_PG_KEY_SQL = _send_pg_sql(by_key=True)
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class _KeyTaken(Exception):
    """A concurrent send with the same Idempotency-Key committed first: roll this one back."""


def message_send(*, request, ban=None):
    """Accepts one message for delivery; returns (message id, extra response headers).

    `ban` (a bans.Check) refuses a banned client with 4029 first. Then checks run in the published
    precedence: 4003, 4005 (unknown recipient or replace), 4023, 4024, 4009 (an Idempotency-Key reused for another message), 4029. The message and one
    queued Delivery per active device commit before this returns; a worker is nudged after
    the commit. A repeat of an accepted send (same channel and key within 24 h) answers
    that send's id and stores nothing.
    """
    if request.at is not None and request.at <= timezone.now():
        request = dataclasses.replace(request, at=None)  # its time has come (a sender's clock a little behind)
    if (connection.vendor == "postgresql" and request.idempotency_key is None and request.replace is None
            and request.attachment is None and request.at is None):
        return _send_in_one_statement(request, ban)
    if ban is not None:
        ban.refuse()
    if request.key is not None:
        digest = crypto.digest(request.key)
        context = channel_send_context(key_digest=digest)
        _refuse_sender(context, context is not None)
        _touch_key(digest)
    else:
        context = channel_send_context(channel_token=request.token, recipient_token=request.to)
        _refuse_sender(context, context is not None and crypto.digests_match(request.secret, context.secret_digest))
    collapse_id = ""
    if request.replace is not None:
        collapse_id = _collapse_key_of(request.replace, channel_id=context.channel_id, recipient_id=context.recipient_id)
    _refuse_delivery(context)
    # An upload is decoded once the sender is known to be allowed (decoding is the costly part).
    upload = attachments.process(request.attachment) if request.attachment is not None else None

    now = timezone.now()
    if request.at is not None:
        from .scheduling import message_schedule

        return message_schedule(request=request, context=context, collapse_id=collapse_id, upload=upload, now=now)
    params = _store_params(request, now=now, context=context, collapse_id=collapse_id)
    limit = quota.daily_limit(verified=context.channel_verified)
    if upload is not None:
        message_id, count, deliveries = _store_with_upload(request, params, upload, context=context, now=now,
                                                           limit=limit)
        if message_id is not None and count is REPEAT:
            return message_id, current_headers(context.channel_id, limit, now)
    elif request.idempotency_key is not None or request.replace is not None:
        message_id, count, deliveries = _store_keyed(request, params, context=context, now=now, limit=limit)
        if message_id is not None and count is REPEAT:
            return message_id, current_headers(context.channel_id, limit, now)
    else:  # the embedded SQLite (PostgreSQL took _send_in_one_statement above)
        message_id, count, deliveries = _store_in_a_transaction(params, channel_id=context.channel_id, now=now)
    return _accepted(context, message_id, count, deliveries, limit=limit, now=now)


def _store_with_upload(request, params, upload, *, context, now, limit):
    """A send with an uploaded image: the file is stored, then its bytes are counted against the channel's
    ATTACHMENT_DAILY_BYTES (4029 past it) in the transaction that stores the message; a send that stores
    nothing (refused, over the quota, a repeat) leaves no file and no bytes counted."""
    name = attachments.store(upload)
    params = {**params, "attachment_file": name, "attachment_type": upload.content_type,
              "attachment_width": upload.width, "attachment_height": upload.height, "attachment_size": upload.size}
    stored = False
    try:
        with transaction.atomic():
            attachments.take_daily_bytes(channel_id=context.channel_id, size=upload.size, now=now)
            if request.idempotency_key is not None or request.replace is not None:
                message_id, count, deliveries = _store_keyed(request, params, context=context, now=now, limit=limit)
            elif connection.vendor == "postgresql":
                message_id, count, deliveries = _store_in_one_statement(_STORE_PG_SQL, params)
            else:
                message_id, count, deliveries = _store_in_a_transaction(params, channel_id=context.channel_id, now=now)
            stored = message_id is not None and count is not REPEAT
            if not stored:
                transaction.set_rollback(True)  # the bytes counted go back
    finally:
        if not stored:
            attachments.delete_files([name])
    return message_id, count, deliveries


def _touch_key(digest):
    """The portable path's last_used_at (PostgreSQL's one statement does it in _SEND_PG_KEY_SQL)."""
    now = timezone.now()
    SendKey.objects.filter(digest=digest).exclude(last_used_at__gte=now - timedelta(minutes=1)).update(last_used_at=now)


def _refuse_sender(context, secret_ok):
    """4003 for an unknown channel or a wrong secret, then 4005 for an unknown recipient."""
    if context is None or not secret_ok:
        raise Forbidden(FORBIDDEN)
    if context.recipient_id is None:
        raise InvalidValue("Unknown recipient")


def _refuse_delivery(context):
    """4023 for a blocked channel, owner or recipient, then 4024 for a recipient who blacklisted the channel."""
    if context.channel_blocked or context.owner_blocked:
        raise Blocked("This channel is blocked")
    if context.recipient_blocked:
        raise Blocked("The recipient is blocked")
    if context.blacklisted:
        raise Blacklisted()


def _store_params(request, *, now, context=None, collapse_id=""):
    when = connection.ops.adapt_datetimefield_value  # raw SQL: datetimes as the ORM would store them
    params = {
        "title": request.title,
        "text": request.message,
        "url": request.url,
        "format": request.format,
        "attachment_url": request.attachment_url,
        "attachment_file": "",
        "attachment_type": "",
        "attachment_width": None,
        "attachment_height": None,
        "attachment_size": None,
        "important": request.important,
        "priority": request.priority,
        "emergency_retry": request.retry,
        "emergency_until": when(now + timedelta(seconds=request.expire)) if request.retry else None,
        "emergency_next_at": when(now + timedelta(seconds=request.retry)) if request.retry else None,
        "actions": actions_json(request),
        "now": when(now),
        "idempotency_key": request.idempotency_key,
        "expires_at": when(now + timedelta(seconds=request.ttl)) if request.ttl else None,
        "collapse_id": collapse_id,
        # The quota's %(day)s and %(limit)s; the one statement takes the channel from the row it read.
        **quota.take_params(channel_id=context.channel_id if context else None, now=now),
    }
    if context is not None:
        params.update(recipient=context.recipient_id, limited=quota.is_limited(verified=context.channel_verified))
    return params


def actions_json(request):
    """The action buttons as the message stores them: a JSON array, or "" for none."""
    return json.dumps(list(request.actions), separators=(",", ":")) if request.actions else ""


def _send_in_one_statement(request, ban):
    """PostgreSQL, no Idempotency-Key, no replace: the whole send in _SEND_PG_SQL (one round trip)."""
    now = timezone.now()
    digest = crypto.digest(request.secret if request.key is None else request.key)
    params = {**_store_params(request, now=now), "to": request.to, "token": request.token, "digest": digest,
              "client": ban.client if ban is not None else None}
    with hot_cursor() as cursor:
        cursor.execute(_SEND_PG_SQL if request.key is None else _SEND_PG_KEY_SQL, params)
        row = cursor.fetchone()
    context = send_context_from_row(row[:8])
    message_id, count, deliveries, banned_until = row[8:]
    if ban is not None:
        ban.seen(banned_until)  # 4029 for a banned client: the statement stored nothing
    if message_id is None:
        # Nothing stored: a check refused it (in the published order), else the quota was exhausted.
        _refuse_sender(context, context is not None and hmac.compare_digest(digest, context.secret_digest))
        _refuse_delivery(context)
    return _accepted(context, message_id, count, deliveries,
                     limit=quota.daily_limit(verified=context.channel_verified), now=now)


def _accepted(context, message_id, count, deliveries, *, limit, now):
    """The answer to a stored send (4029 if the quota refused it), and the nudge after the commit."""
    headers = {}
    if limit is not None:
        headers = quota.rate_limit_headers(limit=limit, count=limit if count is None else count, now=now)
        if message_id is None:
            raise Throttled("The channel's daily limit is exhausted", headers=headers)
    metrics.message_accepted(context.channel_verified)
    recipient_id = context.recipient_id
    transaction.on_commit(lambda: announce_stored(message_id, recipient_id=recipient_id, deliveries=deliveries))
    return message_id, headers


def announce_stored(message_id, *, recipient_id, deliveries):
    """After a message's commit: a worker nudged for its deliveries, the recipient's streams woken."""
    if deliveries:
        enqueue_delivery(message_id, recipient_id=recipient_id)
    else:
        stream_wake.publish(stream_wake.MESSAGE, recipient_id)


REPEAT = object()  # the count of a repeated send: nothing was taken


def _collapse_key_of(message_id, *, channel_id, recipient_id):
    """The collapse key a replacement takes over; 4005 unless it is this channel's message to this recipient."""
    row = (
        Message.objects.filter(id=message_id, channel_id=channel_id, recipient_id=recipient_id)
        .values_list("id", "collapse_id")
        .first()
    )
    if row is None:
        raise InvalidValue("replace: no such message of this channel to this recipient")
    return row[1] or str(row[0])


REPEAT_COMPARED = ("format", "attachment_url", "attachment_type", "attachment_width", "attachment_height",
                    "attachment_size")
REPEAT_COMPARED += ("priority",)  # issue 24


def repeat_of(request, *, channel_id, recipient_id, now, params):
    """The id of the accepted send this one repeats (same key within 24 h), or None; 4009 if it differs.

    A scheduled send (messaging/scheduling.py) keeps its key in its own row: a repeat answers its id,
    which is the one its sender was given; a scheduled repeat must also name the same `at`.
    """
    from .models import ScheduledMessage

    for model in (ScheduledMessage, Message):
        found = _repeat_in(model, request, channel_id=channel_id, recipient_id=recipient_id, now=now, params=params)
        if found is not None:
            return found
    return None


def _repeat_in(model, request, *, channel_id, recipient_id, now, params):
    scheduled = model is not Message
    row = (
        model.objects.filter(channel_id=channel_id, idempotency_key=request.idempotency_key)
        .values_list("id", "recipient_id", "title", "text", "url", "important", "created_at", *REPEAT_COMPARED,
                     "at" if scheduled else "created_at")
        .first()
    )
    if row is None:
        return None
    message_id, recipient, title, text, url, important, created_at = row[:7]
    if created_at <= now - IDEMPOTENCY_WINDOW:
        # Older than the window: the key is free again (the old message keeps its row, not the key).
        model.objects.filter(id=message_id).update(idempotency_key=None)
        return None
    if (recipient, title, text, url, important, *row[7:-1]) != (
        recipient_id, request.title, request.message, request.url, request.important,
        *(params[name] for name in REPEAT_COMPARED)
    ) or (request.at is not None and (not scheduled or row[-1] != request.at)):
        raise IdempotencyKeyReused()
    return message_id


def _store_keyed(request, params, *, context, now, limit):
    """The send with an Idempotency-Key or a replace: one transaction, rolled back if it stored nothing.

    Returns (message id, count or REPEAT, deliveries).
    """
    key = request.idempotency_key
    for attempt in (1, 2, 3):
        try:
            with transaction.atomic():
                if key is not None:
                    repeat = repeat_of(request, channel_id=context.channel_id, recipient_id=context.recipient_id,
                                       now=now, params=params)
                    if repeat is not None:
                        return repeat, REPEAT, 0
                if connection.vendor == "postgresql":
                    message_id, count, deliveries = _store_in_one_statement(
                        _STORE_PG_KEYED_SQL if key is not None else _STORE_PG_SQL, params
                    )
                else:
                    message_id, count, deliveries = _store_in_a_transaction(
                        params, channel_id=context.channel_id, now=now, keyed=key is not None
                    )
                if message_id is None:
                    over_limit = limit is not None and count is None
                    if key is not None and (attempt == 1 or not over_limit):
                        # A concurrent duplicate won (perhaps taking the quota's last unit too): undo
                        # whatever this pass took, and look again now that it has committed.
                        raise _KeyTaken()
                    return None, count, 0  # over the daily limit: nothing was stored
                if request.replace is not None:
                    inbox_remove(message_ids=[request.replace], reason=Message.REPLACED, now=now)
                return message_id, count, deliveries
        except _KeyTaken:
            continue
    raise RuntimeError(f"Idempotency-Key of channel {context.channel_id} kept changing hands")


def current_headers(channel_id, limit, now):
    if limit is None:
        return {}
    return quota.rate_limit_headers(limit=limit, count=quota.channel_sent_today(channel=channel_id, now=now), now=now)


def _store_in_one_statement(sql, params):
    """Returns (message id or None when over the limit, today's count or None, deliveries queued)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _store_in_a_transaction(params, *, channel_id, now, keyed=False):
    """The same for databases without data-modifying CTEs (the embedded SQLite)."""
    with transaction.atomic(), connection.cursor() as cursor:
        count = None
        if params["limited"]:
            count = quota.channel_take_daily_quota(channel_id=channel_id, now=now)
            if count is None:
                return None, None, 0
        cursor.execute(INSERT_MESSAGE_KEYED_SQL if keyed else INSERT_MESSAGE_SQL, params)
        row = cursor.fetchone()
        if row is None:
            return None, count, 0
        message_id = row[0]
        cursor.execute(INSERT_DELIVERIES_SQL, {**params, "message": message_id})
        return message_id, count, cursor.rowcount


def enqueue_delivery(message_id, *, recipient_id=None):
    """Nudges a worker (at most one waiting nudge at a time) and wakes the recipient's streams; if the
    broker is down the sweep recovers, and the streams find the message by polling."""
    nudge_coalesced(message_id, recipient_id=recipient_id)


def inbox_mark_read(*, user, message_id):
    """Marks one of the user's messages read; False if there is no such message in their inbox.

    The user's other devices learn it from their streams (an InboxEvent in the same transaction).
    """
    with transaction.atomic():
        inbox = Message.objects.in_inbox().filter(recipient=user, id=message_id)
        if inbox.filter(read_at__isnull=True).update(read_at=timezone.now()):
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"ids": [message_id]})
            webhooks.messages_read(user=user, message_ids=[message_id])
            return True
        return inbox.exists()


def inbox_mark_read_up_to(*, user, up_to):
    """Marks every unread message of the user's inbox with an id up to `up_to` read; returns how many."""
    with transaction.atomic():
        unread = Message.objects.in_inbox().filter(recipient=user, id__lte=up_to, read_at__isnull=True)
        ids = list(unread.filter(channel__webhook_url__gt="").values_list("id", flat=True)) if user.read_receipts else []
        count = unread.update(read_at=timezone.now())
        webhooks.messages_read(user=user, message_ids=ids)
        if count:
            inbox_event_record(user_id=user.pk, kind=InboxEvent.READ, data={"up_to": up_to})
    return count


def inbox_delete(*, user, message_id):
    """The recipient deletes one of their messages; False if there is no such message in their inbox.

    The text and url go; the row stays (its status answers the sender for MESSAGE_STATUS_DAYS).
    """
    if not Message.objects.in_inbox().filter(recipient=user, id=message_id).exists():
        return False
    return bool(inbox_remove(message_ids=[message_id], reason=Message.DELETED))


# --- leaving the inbox: withdraw, expiry, replace and delete all go through inbox_remove ---


def inbox_remove(*, message_ids, reason, now=None):
    """Takes messages out of their recipients' inboxes; returns [(message id, recipient id)] of those removed.

    The one door out of the inbox (withdraw, ttl, replace, the recipient's delete), so every
    removal tells open streams the same way. The rows stay, so the status keeps answering;
    queued pushes end: `expired` for a ttl, `cancelled` otherwise.
    """
    now = now or timezone.now()
    ids = list(message_ids)
    if not ids:
        return []
    blank = {"title": "", "text": "", "url": "", "attachment_url": ""} if reason == Message.DELETED else {}
    with transaction.atomic():
        removed = list(
            Message.objects.select_for_update()
            .filter(id__in=ids, removed_at__isnull=True)
            .order_by("id")
            .values_list("id", "recipient_id")
        )
        if not removed:
            return []
        removed_ids = [message_id for message_id, _ in removed]
        # An uploaded image leaves with the message: its file is deleted once this commits (its URL then 404s).
        attachments.delete_files_on_commit(attachments.files_of(Message.objects.filter(id__in=removed_ids)))
        Message.objects.filter(id__in=removed_ids).update(
            removed_at=now, removed_reason=reason, attachment_file="", attachment_type="", attachment_width=None,
            attachment_height=None, attachment_size=None, **blank
        )
        end_state = Delivery.EXPIRED if reason == Message.EXPIRED else Delivery.CANCELLED
        Delivery.objects.filter(message_id__in=removed_ids, kind=Delivery.PUSH, state=Delivery.QUEUED).update(
            state=end_state, last_error=f"message {reason}", next_attempt_at=None, updated_at=now
        )
        for message_id, recipient_id in removed:  # the recipient's open streams get `deleted`
            inbox_event_record(user_id=recipient_id, kind=InboxEvent.DELETED, data={"id": message_id})
    return removed


def message_withdraw(*, channel_id, message_id, now=None):
    """The sender takes a message back (idempotent): it leaves the inbox, its queued pushes are
    cancelled, and devices that already showed it get a withdraw push. False: not this channel's message.
    """
    now = now or timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(id=message_id, channel_id=channel_id).first()
        if message is None:
            from .scheduling import scheduled_withdraw

            released = scheduled_withdraw(channel_id=channel_id, scheduled_id=message_id, now=now)
            if not released:
                return released is not None  # cancelled for good (or already), or not this channel's
            message = Message.objects.select_for_update().filter(id=released).first()
            if message is None:
                return True  # its message is gone (retention)
        inbox_remove(message_ids=[message.pk], reason=Message.WITHDRAWN, now=now)
        if message.removed_reason not in ("", Message.WITHDRAWN):
            # It had left the inbox otherwise (ttl, replace, delete): the sender's withdraw is what it is now.
            Message.objects.filter(pk=message.pk).update(removed_reason=Message.WITHDRAWN)
            Delivery.objects.filter(message=message, kind=Delivery.PUSH, state=Delivery.QUEUED).update(
                state=Delivery.CANCELLED, last_error="message withdrawn", next_attempt_at=None, updated_at=now
            )
        queued = delivery.queue_withdraw_pushes(message_ids=[message.pk], now=now)
    if queued:
        transaction.on_commit(lambda: enqueue_delivery(message.pk))
    return True


def messages_expire(*, now=None, limit=1000):
    """Beat: takes messages past their ttl out of the inbox; forgets removed ones after MESSAGE_STATUS_DAYS.

    Returns (expired, purged).
    """
    now = now or timezone.now()
    due = list(
        Message.objects.filter(expires_at__lte=now, removed_at__isnull=True)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    )
    expired = inbox_remove(message_ids=due, reason=Message.EXPIRED, now=now)
    keep_after = now - timedelta(days=settings.MESSAGE_STATUS_DAYS)
    old = list(Message.objects.filter(removed_at__lt=keep_after).values_list("id", flat=True)[:limit])
    if old:
        attachments.delete_files_on_commit(attachments.files_of(Message.objects.filter(id__in=old)))
    purged = Message.objects.filter(id__in=old).delete()[1].get(Message._meta.label, 0) if old else 0
    from .scheduling import purge_ended

    purge_ended(before=keep_after)  # scheduled messages withdrawn before, or refused at, their release
    return len(expired), purged
