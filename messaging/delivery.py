"""The delivery pipeline: claim -> render -> send -> record. The Delivery row is the truth.

A claim takes one message's due deliveries and tops the batch up with other due deliveries
(so one task pushes many messages concurrently); each platform's pushes go through its
provider in one call, and the answers are recorded as they arrive, a few per UPDATE (push()).
A claim is a conditional UPDATE (queued -> sending), so an ACCEPTED delivery is never claimed
again; while its batch is in flight the worker renews it, so only a dead worker's claims go
stale (the sweep re-queues them after DELIVERY_CLAIM_TIMEOUT).

Nothing here queues a task: that is messaging/queueing.py, which runs this pipeline.
"""

import contextlib
import logging
import os
import queue
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.base import ModelState
from django.utils import timezone

from channels_app.models import Channel
from channels_app.selectors import channel_logo_url
from kilopush import metrics
from kilopush.queries import hot_cursor
from users_app.models import Device

from . import attachments, markdown
from .models import Delivery, Message
from .providers import get_provider
from .providers.base import Outcome, Push, Result

logger = logging.getLogger(__name__)


# --- claim -------------------------------------------------------------------------------


def due(now):
    """The one definition of a due delivery: queued, and its next attempt (if one was set) has come."""
    return Q(state=Delivery.QUEUED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


# due(now) in the claim's plain SQL (the latency path), word for word.
_DUE = f"""state = '{Delivery.QUEUED}' AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)"""
_PICK_PG_SQL = f"""
WITH own AS (
    SELECT id FROM {Delivery._meta.db_table} WHERE message_id = %(message)s AND {_DUE}
    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), others AS (
    SELECT id FROM {Delivery._meta.db_table} WHERE message_id IS DISTINCT FROM %(message)s AND {_DUE}
    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM (SELECT id, 0 AS rank FROM own UNION ALL SELECT id, 1 FROM others) ranked
    ORDER BY rank, id LIMIT %(limit)s
), claimed AS (
    UPDATE {Delivery._meta.db_table}
    SET state = '{Delivery.SENDING}', claimed_at = %(now)s, attempts = attempts + 1, updated_at = %(now)s
    WHERE id IN (SELECT id FROM picked) AND state = '{Delivery.QUEUED}'
    RETURNING *
)"""
# What the pipeline reads of a claimed delivery (render, skip, send, record, metrics): the claim's
# statement returns these columns of the delivery, its device, message and channel.
_LOADED = {
    Delivery: ["id", "message", "device", "kind", "state", "attempts", "provider_message_id", "last_error",
               "next_attempt_at", "claimed_at", "created_at"],
    Device: ["id", "user", "platform", "push_token", "web_p256dh", "web_auth", "is_active", "deactivation_reason",
             "sandbox"],
    Message: ["id", "recipient", "channel", "title", "text", "url", "important", "created_at", "expires_at", "collapse_id",
              "removed_reason",
              "format", "attachment_url", "attachment_file",  # issue 25: Markdown's words, the image's URL
              "priority", "acknowledged_at", "emergency_until", "actions"],  # issue 24
    Channel: ["id", "name", "token", "logo", "is_verified", "webhook_url"],
}
_LOADED_FIELDS = {model: [f for f in model._meta.concrete_fields if f.name in names] for model, names in _LOADED.items()}
_ALIASES = {Delivery: "claimed", Device: "dv", Message: "m", Channel: "c"}


def _spans():
    """Each model's slice of a row of _CLAIM_PG_SQL, with the attribute names its columns load into."""
    spans, start = {}, 0
    for model, fields in _LOADED_FIELDS.items():
        spans[model] = (start, start + len(fields), [f.attname for f in fields])
        start += len(fields)
    return spans


_SPANS = _spans()
_CLAIM_PG_SQL = f"""{_PICK_PG_SQL}
SELECT {", ".join(f"{_ALIASES[model]}.{f.column}" for model, fields in _LOADED_FIELDS.items() for f in fields)}
FROM claimed
JOIN {Device._meta.db_table} dv ON dv.id = claimed.device_id
JOIN {Message._meta.db_table} m ON m.id = claimed.message_id
JOIN {Channel._meta.db_table} c ON c.id = m.channel_id
ORDER BY claimed.id
"""


def _instance(model, names, values):
    """What Model.from_db makes of these columns, without Model.__init__ and its pre/post_init signals (a
    fifth of a push's CPU in the worker; no receiver is connected for these models). A field left out
    loads on first access, like a deferred one."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values))
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, "default"
    return instance


def _loaded(rows):
    """Model instances from _CLAIM_PG_SQL's rows: each delivery with its device and its message's channel."""
    deliveries = []
    for row in rows:
        made = {model: _instance(model, names, row[a:b]) for model, (a, b, names) in _SPANS.items()}
        made[Message]._state.fields_cache["channel"] = made[Channel]
        delivery = made[Delivery]
        delivery._state.fields_cache["device"] = made[Device]
        delivery._state.fields_cache["message"] = made[Message]
        deliveries.append(delivery)
    return deliveries


def claim(message_id, *, limit=None, now=None):
    """Claims up to `limit` due deliveries, the message's own first; returns them loaded for sending."""
    limit = limit or settings.DELIVERY_BATCH_SIZE
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        # One statement: pick (skipping rows other workers hold), mark and load, on the latency path.
        with hot_cursor(binary=True) as cursor:
            cursor.execute(_CLAIM_PG_SQL, {"message": message_id, "limit": limit, "now": now})
            return _loaded(cursor.fetchall())
    ids = _claim_portable(message_id, limit, now)
    if not ids:
        return []
    return list(
        Delivery.objects.filter(id__in=ids, state=Delivery.SENDING, claimed_at=now)
        .select_related("device", "message__channel")
        .order_by("id")
    )


def _claim_portable(message_id, limit, now):
    due_rows = Delivery.objects.filter(due(now))
    if not due_rows.exists():
        # SQLite: a task that finds nothing (most of a burst's, one per send) takes no write lock from the sends.
        return []
    # Oldest first, as _PICK_PG_SQL: unordered, SQLite read them in its index's order (state, next_attempt_at),
    # and a retry that was due waited behind every newer delivery never tried.
    due_rows = due_rows.order_by("id")
    with transaction.atomic():
        ids = []
        if message_id is not None:
            ids = list(
                due_rows.filter(message_id=message_id)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:limit]
            )
        if len(ids) < limit:
            others = due_rows.exclude(id__in=ids).select_for_update(skip_locked=True).values_list("id", flat=True)
            ids += list(others[: limit - len(ids)])
        if ids:
            Delivery.objects.filter(id__in=ids, state=Delivery.QUEUED).update(
                state=Delivery.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
            )
    return ids


# --- render ------------------------------------------------------------------------------


def logo_url(channel):
    """The logo for the push: channel_logo_url when it is absolute (a phone cannot follow a relative one), else ""."""
    url = channel_logo_url(channel)
    return url if url and url.startswith(("http://", "https://")) else ""


def unread_counts(recipient_ids):
    rows = (
        Message.objects.in_inbox()
        .filter(recipient_id__in=set(recipient_ids), read_at__isnull=True)
        .order_by()
        .values_list("recipient_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def time_left(message, now):
    """Whole seconds left of the message's ttl (None: it has none); 0 or less means expired."""
    if message.expires_at is None:
        return None
    return int((message.expires_at - now).total_seconds())


def render(delivery, *, badge=None, now=None):
    message = delivery.message
    channel = message.channel
    device = delivery.device
    web = device.platform == Device.WEB
    if delivery.kind in Delivery.NOTIFICATION_GONE:
        # Tells the app to remove the notification it showed (the sender withdrew the message, or it was
        # acknowledged on some device): FCM data-only, an APNs background push, a Web Push payload the
        # service worker reads.
        return Push(
            delivery_id=delivery.pk,
            token=device.push_token,
            title="",
            body="",
            data={"type": delivery.kind, "message_id": str(message.pk)},
            important=False,
            sandbox=device.sandbox,
            web_keys={"p256dh": device.web_p256dh, "auth": device.web_auth} if web else None,
            collapse_id=message.collapse_key if web else "",  # Web Push Topic: replaces a push still pending
            data_only=True,
        )
    data = {"message_id": str(message.pk), "channel_token": channel.token}
    if message.url:
        data["url"] = message.url
    if message.priority:
        data["priority"] = str(message.priority)  # the apps' cue (quiet, emergency); 0 is left out
    if message.actions:
        data["actions"] = message.actions  # the buttons as a JSON string (FCM and APNs data are strings)
    return Push(
        delivery_id=delivery.pk,
        token=delivery.device.push_token,
        title=channel.name,
        body=markdown.to_plain(message.text) if message.format == Message.MARKDOWN else message.text,
        message_title=message.title,
        attachment=attachments.push_url(message),
        data=data,
        important=message.important,
        image=logo_url(channel),
        badge=badge,
        collapse_id=message.collapse_key,  # a replacement's is the first message's: one notification
        sandbox=device.sandbox,
        web_keys={"p256dh": device.web_p256dh, "auth": device.web_auth} if web else None,
        created_at=message.created_at.isoformat().replace("+00:00", "Z") if web else "",
        channel_verified=channel.is_verified if web else False,
        ttl=time_left(message, now or timezone.now()),
        priority=message.priority,
    )


def skipped(delivery, now):
    """The Result of a push that must not go out any more (its message expired, left the inbox or was
    acknowledged), or None."""
    if delivery.kind in Delivery.NOTIFICATION_GONE:
        return None
    message = delivery.message
    if message.acknowledged_at:  # answered (on any device) before this push or repeat went out
        return Result.cancelled("acknowledged")
    if delivery.kind == Delivery.REPEAT and message.emergency_until <= now:
        return Result.cancelled("emergency expired")
    if message.removed_reason in (Message.WITHDRAWN, Message.REPLACED, Message.DELETED):
        return Result.cancelled(f"message {message.removed_reason}")
    left = time_left(message, now)
    if left is not None and left <= 0:
        return Result.expired()
    return None


# --- send --------------------------------------------------------------------------------


def _send_with(platform, pushes, answered=None):
    try:
        results = list(get_provider(platform).send(pushes, answered=answered))
    except Exception as exc:
        logger.exception("The %s provider failed", platform)
        return [Result.retry(f"provider failure: {exc.__class__.__name__}")] * len(pushes)
    if len(results) != len(pushes):
        logger.error("The %s provider answered %d of %d pushes", platform, len(results), len(pushes))
        results += [Result.retry("no answer from the provider")] * (len(pushes) - len(results))
    return results


_pool = None


def _platform_pool():
    global _pool
    if _pool is None:
        # A thread per platform and claim in flight: push()'s window keeps two claims (and a straggler's) going.
        _pool = ThreadPoolExecutor(max_workers=4 * len(Device.PUSH_PLATFORMS), thread_name_prefix="push")
    return _pool


def _forget_pool():
    global _pool
    _pool = None  # a forked child (a Celery pool process) has none of its parent's threads


os.register_at_fork(after_in_child=_forget_pool)


def _prepare(deliveries):
    """({delivery id: Result} of the deliveries decided without a push, {platform: rendered pushes})."""
    results = {}
    groups = {}
    badged = (Device.IOS, Device.WEB)  # the unread count shows as the app icon's badge
    badge_recipients = [d.message.recipient_id for d in deliveries if d.device.platform in badged]
    badges = unread_counts(badge_recipients) if badge_recipients else {}
    now = timezone.now()
    for delivery in deliveries:
        device = delivery.device
        skip = skipped(delivery, now)
        if skip is not None:
            results[delivery.pk] = skip  # no push after the ttl, nor for a message taken back
            continue
        if not device.is_active or not device.push_token:
            results[delivery.pk] = Result.invalid_token(device.deactivation_reason or "device is inactive")
            continue
        badge = badges.get(delivery.message.recipient_id, 0) if device.platform in badged else None
        groups.setdefault(device.platform, []).append(render(delivery, badge=badge, now=now))
    return results, groups


def send(deliveries):
    """Pushes the claimed deliveries; returns {delivery id: Result}. Platforms go out in parallel.

    The whole batch's answers at once: the worker's pipeline is push(), which records each as it comes.
    """
    results, groups = _prepare(deliveries)
    # The first platform in this thread, the others meanwhile on the process's pool (kept: a thread
    # started per batch cost more than a small batch's pushes).
    [*others, (first, first_pushes)] = groups.items() or [(None, None)]
    futures = {platform: _platform_pool().submit(_send_with, platform, pushes) for platform, pushes in others}
    answers = {first: _send_with(first, first_pushes)} if first is not None else {}
    answers.update((platform, future.result()) for platform, future in futures.items())
    for platform, pushes in groups.items():
        metrics.provider_answered(platform, answers[platform])
        for push, result in zip(pushes, answers[platform]):
            results[push.delivery_id] = result
    return results


# --- record ------------------------------------------------------------------------------


def retry_delay(attempts, retry_after=None):
    """Exponential backoff from the attempt count, never shorter than the provider's Retry-After."""
    backoff = min(settings.DELIVERY_RETRY_BASE_DELAY * 2 ** max(attempts - 1, 0), settings.DELIVERY_RETRY_MAX_DELAY)
    return max(backoff, retry_after or 0.0)


def outcome_fields(delivery, result, now):
    """The Delivery columns one Result leads to."""
    if result.outcome is Outcome.ACCEPTED:
        return {"state": Delivery.ACCEPTED, "provider_message_id": result.provider_id[:255], "last_error": "",
                "next_attempt_at": None}
    if result.outcome is Outcome.INVALID_TOKEN:
        return {"state": Delivery.INVALID_TOKEN, "last_error": result.reason, "next_attempt_at": None}
    if result.outcome is Outcome.REJECTED:
        return {"state": Delivery.REJECTED, "last_error": result.reason, "next_attempt_at": None}
    if result.outcome is Outcome.EXPIRED:
        return {"state": Delivery.EXPIRED, "last_error": result.reason, "next_attempt_at": None}
    if result.outcome is Outcome.CANCELLED:
        return {"state": Delivery.CANCELLED, "last_error": result.reason, "next_attempt_at": None}
    next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts, result.retry_after))
    expires_at = delivery.message.expires_at if delivery.kind == Delivery.PUSH else None
    if next_attempt_at > delivery.created_at + timedelta(seconds=settings.DELIVERY_MAX_AGE) or (
        expires_at is not None and next_attempt_at >= expires_at
    ):
        return {"state": Delivery.EXPIRED, "last_error": result.reason, "next_attempt_at": None}
    return {"state": Delivery.QUEUED, "last_error": result.reason, "next_attempt_at": next_attempt_at}


_RECORD_SQL = f"""
UPDATE {Delivery._meta.db_table}
SET state = %s, provider_message_id = %s, last_error = %s, next_attempt_at = %s, updated_at = %s
WHERE id = %s AND state = '{Delivery.SENDING}' AND claimed_at = %s
"""


# PostgreSQL: every answer of a batch in one statement, its columns as arrays.
_RECORD_PG_SQL = f"""
UPDATE {Delivery._meta.db_table} AS d
SET state = v.state, provider_message_id = v.provider_message_id, last_error = v.last_error,
    next_attempt_at = v.next_attempt_at, updated_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(provider_ids)s::text[], %(errors)s::text[],
            %(next)s::timestamptz[], %(claimed)s::timestamptz[])
     AS v(id, state, provider_message_id, last_error, next_attempt_at, claimed_at)
WHERE d.id = v.id AND d.state = '{Delivery.SENDING}' AND d.claimed_at = v.claimed_at
"""


def record(deliveries, results, *, now=None):
    """Writes every answer (only to rows still held by this claim: one statement on PostgreSQL, a pipelined
    batch elsewhere); retires dead tokens in the same transaction.

    Plain SQL: building one ORM UPDATE with a CASE per column cost as much CPU as the pushes.
    """
    now = now or timezone.now()
    if not deliveries:
        return {}
    changes = {d.pk: outcome_fields(d, results[d.pk], now) for d in deliveries}
    rows = []
    for delivery in deliveries:
        fields = changes[delivery.pk]
        rows.append((delivery.pk, fields["state"], fields.get("provider_message_id", delivery.provider_message_id),
                     fields.get("last_error", delivery.last_error),
                     fields.get("next_attempt_at", delivery.next_attempt_at), delivery.claimed_at))
    dead = [d for d in deliveries if results[d.pk].outcome is Outcome.INVALID_TOKEN and d.device.is_active]
    # One round trip when no token died (nearly always); with retirements, all of it in one transaction.
    # Elsewhere (SQLite) always one: its autocommit would commit each row's UPDATE on its own.
    one_transaction = dead or connection.vendor != "postgresql"
    with transaction.atomic() if one_transaction else contextlib.nullcontext():
        if connection.vendor == "postgresql":
            ids, states, provider_ids, errors, next_attempts, claimed = (list(column) for column in zip(*rows))
            with hot_cursor() as cursor:
                cursor.execute(_RECORD_PG_SQL, {"now": now, "ids": ids, "states": states, "provider_ids": provider_ids,
                                                "errors": errors, "next": next_attempts, "claimed": claimed})
        else:
            when = connection.ops.adapt_datetimefield_value  # raw SQL: datetimes as the ORM would store them
            with connection.cursor() as cursor:
                cursor.executemany(_RECORD_SQL, [(state, provider_id, error, when(next_attempt), when(now), pk,
                                                  when(claimed_at))
                                                 for pk, state, provider_id, error, next_attempt, claimed_at in rows])
        for delivery in dead:
            device = delivery.device
            retire_token(device=device, push_token=device.push_token, reason=results[delivery.pk].reason, now=now)
    metrics.deliveries_recorded(deliveries, changes, now)
    for delivery in deliveries:
        delivery.__dict__.update(changes[delivery.pk])
    return changes


def retire_token(*, device, push_token, reason, now=None):
    """Deactivates a device whose token the provider called dead, unless the app sent a fresh one since."""
    updated = Device.objects.filter(pk=device.pk, push_token=push_token, is_active=True).update(
        is_active=False, deactivated_at=now or timezone.now(), deactivation_reason=reason[:255]
    )
    if updated:
        logger.info("Device %s deactivated: %s", device.pk, reason)
        metrics.device_deactivated(device.platform)
    return bool(updated)


# --- withdraw pushes ------------------------------------------------------------------------


def queue_withdraw_pushes(*, message_ids, now=None):
    """One withdraw delivery per device that accepted the message's push (once: unique per kind); returns how many."""
    now = now or timezone.now()
    pushed = list(
        Delivery.objects.filter(message_id__in=message_ids, kind=Delivery.PUSH, state=Delivery.ACCEPTED)
        .values_list("message_id", "device_id")
    )
    if pushed:
        Delivery.objects.bulk_create(
            [Delivery(message_id=m, device_id=d, kind=Delivery.WITHDRAW, created_at=now, updated_at=now)
             for m, d in pushed],
            ignore_conflicts=True,
        )
    return len(pushed)


def queue_again(pairs, kind, *, now):
    """One queued delivery of `kind` per (message id, device id) of `pairs` (an emergency's repeats, the dismiss
    pushes): a row of that kind already there is queued again, unless it is still queued or sending; the
    others are created. Inside a transaction (the existing rows are locked)."""
    if not pairs:
        return
    existing = dict(
        ((m, d), (pk, state)) for pk, m, d, state in Delivery.objects.select_for_update()
        .filter(message_id__in={m for m, _ in pairs}, kind=kind).values_list("id", "message_id", "device_id", "state")
    )
    again = [pk for key, (pk, state) in existing.items()
             if key in pairs and state not in (Delivery.QUEUED, Delivery.SENDING)]
    if again:
        Delivery.objects.filter(id__in=again).update(
            state=Delivery.QUEUED, attempts=0, last_error="", next_attempt_at=None, claimed_at=None,
            provider_message_id="", created_at=now, updated_at=now,
        )
    Delivery.objects.bulk_create(
        [Delivery(message_id=m, device_id=d, kind=kind, created_at=now, updated_at=now)
         for m, d in pairs if (m, d) not in existing],
        ignore_conflicts=True,
    )


def queue_dismiss_pushes(*, message_ids=(), shown=(), now=None):
    """After an acknowledgement: one dismiss delivery per device that showed the message (its push or a
    repeat accepted), for `message_ids`, or for the (message id, device id) pairs `shown`. A dismiss sent
    before is queued again (a repeat in flight was shown after it). Returns how many devices will get one."""
    pairs = set(shown)
    if message_ids:
        pairs.update(
            Delivery.objects.filter(message_id__in=message_ids, kind__in=(Delivery.PUSH, Delivery.REPEAT),
                                    state=Delivery.ACCEPTED).values_list("message_id", "device_id")
        )
    queue_again(pairs, Delivery.DISMISS, now=now or timezone.now())
    return len(pairs)


def taken_away_in_flight(deliveries, *, now=None):
    """Messages withdrawn or acknowledged while this batch was pushing them: the devices that showed them get
    the withdraw push (after a push) or the dismiss push (after a push or a repeat) too.

    Returns the ids of the messages that got such deliveries (to be nudged).
    """
    shown = {(d.message_id, d.device_id, d.kind) for d in deliveries
             if d.kind in (Delivery.PUSH, Delivery.REPEAT) and d.state == Delivery.ACCEPTED}
    if not shown:
        return []
    ended = Message.objects.filter(id__in={m for m, _, _ in shown}).filter(
        Q(removed_reason=Message.WITHDRAWN) | Q(acknowledged_at__isnull=False)
    ).values_list("id", "removed_reason", "acknowledged_at")
    withdrawn, acknowledged = set(), set()
    for message_id, reason, acknowledged_at in ended:
        if reason == Message.WITHDRAWN:
            withdrawn.add(message_id)
        elif acknowledged_at is not None:
            acknowledged.add(message_id)
    withdrawn &= {m for m, _, kind in shown if kind == Delivery.PUSH}
    if withdrawn:
        queue_withdraw_pushes(message_ids=withdrawn, now=now)
    dismissed = {(m, d) for m, d, _ in shown if m in acknowledged}
    if dismissed:
        with transaction.atomic():
            queue_dismiss_pushes(shown=dismissed, now=now)
    return sorted(withdrawn | {m for m, _ in dismissed})


# --- push: send and record as the answers come ----------------------------------------------

# An answer waits for its record at most this long, or until this many wait: a worker killed mid-batch
# repeats the pushes in flight and these few, not every push of its batch answered so far. One UPDATE
# per chunk, never one per push.
RECORD_WITHIN = 0.02
RECORD_EVERY = 10
_DONE = object()


def renew_claims(deliveries, *, now=None):
    """The claims are alive: claimed_at moves to now (only on rows this claim still holds), so the sweep
    leaves them. A worker renews its batch every DELIVERY_CLAIM_TIMEOUT / 3 while it is in flight."""
    now = now or timezone.now()
    by_claim = {}
    for delivery in deliveries:
        by_claim.setdefault(delivery.claimed_at, []).append(delivery)
    for claimed_at, held in by_claim.items():
        Delivery.objects.filter(id__in=[d.pk for d in held], state=Delivery.SENDING, claimed_at=claimed_at).update(
            claimed_at=now)
        for delivery in held:
            delivery.claimed_at = now  # a row the sweep took meanwhile keeps another claimed_at: record skips it


def _send_and_hand_over(platform, pushes, answers):
    """On the platform pool: each answer into `answers` as it comes, then (_DONE, platform, ids, all results)."""
    ids = [push.delivery_id for push in pushes]
    results = None
    try:
        results = _send_with(platform, pushes, answered=lambda index, result: answers.put((ids[index], result)))
    finally:
        if results is None:
            results = [Result.retry("provider failure")] * len(pushes)
        answers.put((_DONE, platform, ids, results))


def push(deliveries, *, claim_more=None, finished=None):
    """Sends the claimed deliveries and records each answer soon after it arrives; returns {id: changes}.

    The providers send on the platform pool (the async ones on their loops) and hand every answer over
    as it comes; this thread, which holds the database connection, writes them (RECORD_EVERY /
    RECORD_WITHIN) and renews the held claims while it waits.

    With `claim_more(limit)`, the slot's window (issue 27): whenever half of DELIVERY_BATCH_SIZE is free
    (its answers recorded), it claims that much more and sends it while the rest is still in flight, as
    long as each claim comes back full. So a provider's latency is waited out while the next deliveries
    are rendered and sent, and the slot never holds more than DELIVERY_BATCH_SIZE claimed deliveries:
    a kill repeats no more than before. `finished(deliveries)` is called with each claim's deliveries
    once all of them are recorded.
    """
    if not deliveries:
        return {}
    window = max(settings.DELIVERY_BATCH_SIZE, len(deliveries))
    half = max(settings.DELIVERY_BATCH_SIZE // 2, 1)
    answers = queue.SimpleQueue()
    held = {}  # claimed and not recorded yet
    claims = []  # [deliveries, ids of them not recorded yet], oldest first
    pending = {}  # answers waiting for their record
    changes = {}
    in_flight = 0  # provider calls not ended
    oldest = None  # when the oldest unrecorded answer came

    def start(batch):
        nonlocal in_flight, oldest
        decided, groups = _prepare(batch)  # decided without a push: recorded with the first answers
        held.update((d.pk, d) for d in batch)
        claims.append((batch, {d.pk for d in batch}))
        for platform, pushes in groups.items():
            _platform_pool().submit(_send_and_hand_over, platform, pushes, answers)
        in_flight += len(groups)
        pending.update(decided)
        if decided and oldest is None:
            oldest = monotonic()

    def write():
        recorded = [held.pop(pk) for pk in pending]
        changes.update(record(recorded, pending))
        for batch, left in claims:
            left.difference_update(pending)
        for claim in [c for c in claims if not c[1]]:
            claims.remove(claim)
            if finished is not None:
                try:
                    finished(claim[0])
                except Exception:  # the rest of the window is still in flight: it must be recorded
                    logger.exception("After %d pushes", len(claim[0]))

    start(deliveries)
    more = claim_more is not None
    renew_every = max(settings.DELIVERY_CLAIM_TIMEOUT / 3, 0.1)
    renew_at = monotonic() + renew_every
    while in_flight or pending or (more and len(held) <= window - half):
        if more and len(held) <= window - half:
            limit = window - len(held)
            batch = claim_more(limit)
            more = len(batch) >= limit
            if batch:
                start(batch)
            continue
        clock = monotonic()
        if pending and (not in_flight or len(pending) >= RECORD_EVERY or clock - oldest >= RECORD_WITHIN):
            write()
            pending, oldest = {}, None
            continue
        if clock >= renew_at:
            renew_claims(list(held.values()))
            renew_at = monotonic() + renew_every
        wait = renew_at - clock if oldest is None else min(renew_at - clock, oldest + RECORD_WITHIN - clock)
        try:
            item = answers.get(timeout=max(wait, 0))
        except queue.Empty:
            continue
        while item is not None:
            if item[0] is _DONE:
                _, platform, ids, results = item
                in_flight -= 1
                metrics.provider_answered(platform, results)
                answered = zip(ids, results)  # the answers not handed over already (a provider's timeouts)
            else:
                answered = (item,)
            for pk, result in answered:
                if pk in held and pk not in pending:
                    pending[pk] = result
            if oldest is None and pending:
                oldest = monotonic()
            try:
                item = answers.get_nowait()
            except queue.Empty:
                item = None
    return changes
