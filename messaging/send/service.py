"""The send's one door (message_send): the send API, the integrations and the tests all go through it.

Checks run in the published precedence (4003, 4005, 4023, 4024, 4009, 4029); every statement is in sql.py.
"""

import dataclasses
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import BooleanField, F, Value
from django.utils import timezone

from channels_app import quota
from channels_app.models import SendKey
from kilopush import crypto, metrics
from kilopush.errors import Blacklisted, Blocked, Forbidden, IdempotencyKeyReused, InvalidValue, Throttled
from kilopush.queries import hot_cursor

from .. import attachments
from ..models import Message
from ..services import enqueue_delivery, inbox_remove
from . import sql

logger = logging.getLogger(__name__)

FORBIDDEN = "Invalid channel token or secret"  # unknown token, wrong secret, another channel's message: one answer
IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class SendContext:
    """Everything a send needs to decide, read in one query."""

    channel_id: int
    secret_digest: str
    channel_verified: bool
    channel_blocked: bool
    owner_blocked: bool
    recipient_id: int | None
    recipient_blocked: bool
    blacklisted: bool


def send_context_from_row(row):
    """A SendContext from send_context_sql()'s columns (None for no row, or a row without a channel)."""
    if row is None or row[0] is None:
        return None
    return SendContext(
        channel_id=row[0],
        secret_digest=row[1],
        channel_verified=bool(row[2]),
        channel_blocked=bool(row[3]),
        owner_blocked=bool(row[4]),
        recipient_id=row[5],
        recipient_blocked=bool(row[6]),
        blacklisted=bool(row[7]),
    )


def channel_send_context(*, channel_token=None, recipient_token=None, key_digest=None):
    """The channel (with its owner) named by channel_token and the recipient, or None if no such channel;
    with `key_digest`, those of that send key (None for an unknown or revoked key)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SEND_CONTEXT_BY_KEY if key_digest is not None else sql.SEND_CONTEXT,
                       {"to": recipient_token, "token": channel_token, "digest": key_digest})
        return send_context_from_row(cursor.fetchone())


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
    if request.at is not None:  # scheduled delivery (issue 24)
        from ..scheduling import message_schedule

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
                message_id, count, deliveries = _store_in_one_statement(sql.STORE, params)
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
    """The portable path's last_used_at (PostgreSQL's one statement does it in sql.SEND_BY_KEY)."""
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
    """PostgreSQL, no Idempotency-Key, no replace: the whole send in sql.SEND (one round trip)."""
    now = timezone.now()
    digest = crypto.digest(request.secret if request.key is None else request.key)
    params = {**_store_params(request, now=now), "to": request.to, "token": request.token, "digest": digest,
              "client": ban.client if ban is not None else None}
    with hot_cursor() as cursor:
        cursor.execute(sql.SEND if request.key is None else sql.SEND_BY_KEY, params)
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


def quota_answer(context, stored_id, count, *, limit, now):
    """The X-RateLimit-* headers of a send the quota took (count: the units used today), or 4029 when it
    refused (stored_id None); counts the accepted send. Shared by the send and the scheduled send."""
    headers = {}
    if limit is not None:
        headers = quota.rate_limit_headers(limit=limit, count=limit if count is None else count, now=now)
        if stored_id is None:
            raise Throttled("The channel's daily limit is exhausted", headers=headers)
    metrics.message_accepted(context.channel_verified)
    return headers


def _accepted(context, message_id, count, deliveries, *, limit, now):
    """The answer to a stored send (4029 if the quota refused it), and the nudge after the commit."""
    headers = quota_answer(context, message_id, count, limit=limit, now=now)
    recipient_id = context.recipient_id
    transaction.on_commit(lambda: announce_stored(message_id, recipient_id=recipient_id, deliveries=deliveries))
    accepted = Accepted((message_id, headers))
    accepted.channel_id, accepted.created_at = context.channel_id, now
    return accepted


class Accepted(tuple):
    """message_send's answer, (message id, extra response headers), and what the new message was stored with:
    `channel_id` and `created_at`, so an answer that shows them need not read the row again (Gotify's).
    A repeat of an earlier send (Idempotency-Key) answers a plain tuple: its row holds them."""

    channel_id = created_at = None


def announce_stored(message_id, *, recipient_id, deliveries):
    """After a message's commit: a worker nudged for its deliveries (if any), the recipient's streams woken,
    in the process's shared round trip."""
    enqueue_delivery(message_id if deliveries else None, recipient_id=recipient_id)


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
    which is the one its sender was given; a scheduled repeat must also name the same `at`. Both tables
    are read in one round trip (UNION ALL), the scheduled row first.
    """
    from ..models import ScheduledMessage

    columns = ("id", "recipient_id", "title", "text", "url", "important", "created_at", *REPEAT_COMPARED)

    def keyed(model, at, scheduled):
        return (model.objects.filter(channel_id=channel_id, idempotency_key=request.idempotency_key)
                .annotate(repeat_at=F(at), repeat_scheduled=Value(scheduled, output_field=BooleanField()))
                .values_list(*columns, "repeat_at", "repeat_scheduled"))

    rows = keyed(ScheduledMessage, "at", True).union(keyed(Message, "created_at", False), all=True)
    for row in sorted(rows, key=lambda row: not row[-1]):
        found = _repeat_in(row[-1], row[:-1], request, recipient_id=recipient_id, now=now, params=params)
        if found is not None:
            return found
    return None


def _repeat_in(scheduled, row, request, *, recipient_id, now, params):
    from ..models import ScheduledMessage

    message_id, recipient, title, text, url, important, created_at = row[:7]
    if created_at <= now - IDEMPOTENCY_WINDOW:
        # Older than the window: the key is free again (the old message keeps its row, not the key).
        (ScheduledMessage if scheduled else Message).objects.filter(id=message_id).update(idempotency_key=None)
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
                        sql.STORE_KEYED if key is not None else sql.STORE, params
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
        cursor.execute(sql.INSERT_MESSAGE_KEYED if keyed else sql.INSERT_MESSAGE, params)
        row = cursor.fetchone()
        if row is None:
            return None, count, 0
        message_id = row[0]
        cursor.execute(sql.INSERT_DELIVERIES, {**params, "message": message_id})
        return message_id, count, cursor.rowcount
