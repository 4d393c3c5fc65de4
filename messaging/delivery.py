"""The delivery pipeline: claim, push, record. The Delivery row is the truth, the queue only a nudge.

A task for one message claims that message's due deliveries, tops the batch up with other
due deliveries (so one task pushes many messages concurrently), sends each platform's pushes
through its provider in one call, and records every answer in one UPDATE. A claim is a
conditional UPDATE (queued -> sending), so an ACCEPTED delivery is never claimed again.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from kilopush import metrics
from kilopush.cache import redis_breaker, redis_usable
from users_app.models import Device

from .models import Delivery, Message
from .providers import get_provider
from .providers.base import Outcome, Push, Result

logger = logging.getLogger(__name__)


# --- claim -------------------------------------------------------------------------------


_DUE = f"""state = '{Delivery.QUEUED}' AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)"""
_CLAIM_PG_SQL = f"""
WITH own AS (
    SELECT id FROM {Delivery._meta.db_table} WHERE message_id = %(message)s AND {_DUE}
    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), others AS (
    SELECT id FROM {Delivery._meta.db_table} WHERE message_id IS DISTINCT FROM %(message)s AND {_DUE}
    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM (SELECT id, 0 AS rank FROM own UNION ALL SELECT id, 1 FROM others) ranked
    ORDER BY rank, id LIMIT %(limit)s
)
UPDATE {Delivery._meta.db_table}
SET state = '{Delivery.SENDING}', claimed_at = %(now)s, attempts = attempts + 1, updated_at = %(now)s
WHERE id IN (SELECT id FROM picked) AND state = '{Delivery.QUEUED}'
RETURNING id
"""


def claim(message_id, *, limit=None, now=None):
    """Claims up to `limit` due deliveries, the message's own first; returns them loaded for sending."""
    limit = limit or settings.DELIVERY_BATCH_SIZE
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        # One statement: pick (skipping rows other workers hold) and mark, on the latency path.
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_PG_SQL, {"message": message_id, "limit": limit, "now": now})
            ids = [row[0] for row in cursor.fetchall()]
    else:
        ids = _claim_portable(message_id, limit, now)
    if not ids:
        return []
    return list(
        Delivery.objects.filter(id__in=ids, state=Delivery.SENDING, claimed_at=now)
        .select_related("device", "message__channel")
        .order_by("id")
    )


def _claim_portable(message_id, limit, now):
    due = Delivery.objects.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), state=Delivery.QUEUED)
    with transaction.atomic():
        ids = []
        if message_id is not None:
            ids = list(
                due.filter(message_id=message_id)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:limit]
            )
        if len(ids) < limit:
            others = due.exclude(id__in=ids).select_for_update(skip_locked=True).values_list("id", flat=True)
            ids += list(others[: limit - len(ids)])
        if ids:
            Delivery.objects.filter(id__in=ids, state=Delivery.QUEUED).update(
                state=Delivery.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
            )
    return ids


# --- render ------------------------------------------------------------------------------


def logo_url(channel):
    if not channel.logo:
        return ""
    url = channel.logo.url
    if url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL + url if settings.SITE_URL else ""


def unread_counts(recipient_ids):
    rows = (
        Message.objects.filter(recipient_id__in=set(recipient_ids), read_at__isnull=True)
        .order_by()
        .values_list("recipient_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def render(delivery, *, badge=None):
    message = delivery.message
    channel = message.channel
    data = {"message_id": str(message.pk), "channel_token": channel.token}
    if message.url:
        data["url"] = message.url
    return Push(
        delivery_id=delivery.pk,
        token=delivery.device.push_token,
        title=channel.name,
        body=message.text,
        data=data,
        important=message.important,
        image=logo_url(channel),
        badge=badge,
        collapse_id=str(message.pk),
        sandbox=delivery.device.sandbox,
    )


# --- send --------------------------------------------------------------------------------


def _send_with(platform, pushes):
    try:
        results = list(get_provider(platform).send(pushes))
    except Exception as exc:
        logger.exception("The %s provider failed", platform)
        return [Result.retry(f"provider failure: {exc.__class__.__name__}")] * len(pushes)
    if len(results) != len(pushes):
        logger.error("The %s provider answered %d of %d pushes", platform, len(results), len(pushes))
        results += [Result.retry("no answer from the provider")] * (len(pushes) - len(results))
    return results


def send(deliveries):
    """Pushes the claimed deliveries; returns {delivery id: Result}. Platforms go out in parallel."""
    results = {}
    groups = {}
    ios_recipients = [d.message.recipient_id for d in deliveries if d.device.platform == Device.IOS]
    badges = unread_counts(ios_recipients) if ios_recipients else {}
    for delivery in deliveries:
        device = delivery.device
        if not device.is_active or not device.push_token:
            results[delivery.pk] = Result.invalid_token(device.deactivation_reason or "device is inactive")
            continue
        badge = badges.get(delivery.message.recipient_id, 0) if device.platform == Device.IOS else None
        groups.setdefault(device.platform, []).append(render(delivery, badge=badge))
    if len(groups) == 1:
        [(platform, pushes)] = groups.items()
        answers = {platform: _send_with(platform, pushes)}
    elif groups:
        with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="push") as pool:
            futures = {platform: pool.submit(_send_with, platform, pushes) for platform, pushes in groups.items()}
            answers = {platform: future.result() for platform, future in futures.items()}
    else:
        answers = {}
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
    next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts, result.retry_after))
    if next_attempt_at > delivery.created_at + timedelta(seconds=settings.DELIVERY_MAX_AGE):
        return {"state": Delivery.EXPIRED, "last_error": result.reason, "next_attempt_at": None}
    return {"state": Delivery.QUEUED, "last_error": result.reason, "next_attempt_at": next_attempt_at}


_RECORD_SQL = f"""
UPDATE {Delivery._meta.db_table}
SET state = %s, provider_message_id = %s, last_error = %s, next_attempt_at = %s, updated_at = %s
WHERE id = %s AND state = '{Delivery.SENDING}' AND claimed_at = %s
"""


def record(deliveries, results, *, now=None):
    """Writes every answer (only to rows still held by this claim, in one pipelined batch); retires dead tokens.

    Plain SQL: building one ORM UPDATE with a CASE per column cost as much CPU as the pushes.
    """
    now = now or timezone.now()
    if not deliveries:
        return {}
    changes = {d.pk: outcome_fields(d, results[d.pk], now) for d in deliveries}
    when = connection.ops.adapt_datetimefield_value  # raw SQL: datetimes as the ORM would store them
    rows = []
    for delivery in deliveries:
        fields = changes[delivery.pk]
        rows.append((
            fields["state"],
            fields.get("provider_message_id", delivery.provider_message_id),
            fields.get("last_error", delivery.last_error),
            when(fields.get("next_attempt_at", delivery.next_attempt_at)),
            when(now),
            delivery.pk,
            when(delivery.claimed_at),
        ))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany(_RECORD_SQL, rows)
        for delivery in deliveries:
            result = results[delivery.pk]
            if result.outcome is Outcome.INVALID_TOKEN and delivery.device.is_active:
                device = delivery.device
                retire_token(device=device, push_token=device.push_token, reason=result.reason, now=now)
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


# --- nudge -------------------------------------------------------------------------------


def nudge(message_id, countdown=None):
    """Queues a task for the message; if the broker is down the sweep finds the rows later."""
    from .tasks import deliver_message as task

    if settings.REDIS_URL and not redis_usable():
        return False  # Redis failed a moment ago (circuit breaker): the sweep picks the rows up
    try:
        task.apply_async((message_id,), countdown=countdown)
        return True
    except Exception as exc:
        if settings.REDIS_URL:
            redis_breaker.trip(exc)
        logger.warning("Could not queue message %s; the sweep will pick it up", message_id, exc_info=True)
        return False


# While a nudge waits in the queue, its task will claim every delivery committed before
# it starts (a claim takes other due deliveries too), so a send need not queue another.
# This keeps both the send path and the worker from doing one task per message under load.
NUDGE_PENDING_KEY = "delivery-nudge-pending"


def nudge_coalesced(message_id):
    """Queues a task unless one is already waiting; without Redis (embedded) always queues."""
    if settings.REDIS_URL and not redis_usable():
        return False  # the sweep delivers it
    if settings.REDIS_URL and settings.DELIVERY_NUDGE_COALESCE:
        try:
            if not cache.add(NUDGE_PENDING_KEY, message_id, timeout=settings.DELIVERY_NUDGE_PENDING_TTL):
                return True
        except Exception:
            logger.warning("Nudge flag unavailable; queueing a task", exc_info=True)
    return nudge(message_id)


def nudge_taken():
    """A task starts: from now on, new deliveries need a new nudge."""
    if settings.REDIS_URL and settings.DELIVERY_NUDGE_COALESCE:
        try:
            cache.delete(NUDGE_PENDING_KEY)
        except Exception:
            logger.warning("Nudge flag unavailable", exc_info=True)


def nudge_retries(deliveries, now):
    """Short retries ride on a Celery countdown; longer ones wait in next_attempt_at for the sweep."""
    due = set()
    for delivery in deliveries:
        if delivery.state == Delivery.QUEUED and delivery.next_attempt_at:
            delay = max((delivery.next_attempt_at - now).total_seconds(), 0.0)
            if delay <= settings.DELIVERY_COUNTDOWN_MAX:
                due.add((delivery.message_id, round(delay + 0.05, 1)))
    for message_id, delay in sorted(due):
        nudge(message_id, countdown=delay)


def deliver_message(message_id):
    """One pass: claim a batch (this message first), push it, record the answers, schedule retries."""
    nudge_taken()
    deliveries = claim(message_id)
    if not deliveries:
        return {}
    if len(deliveries) >= settings.DELIVERY_BATCH_SIZE:
        nudge(None)  # more may be due: another worker process takes the next batch meanwhile
    results = send(deliveries)
    now = timezone.now()
    changes = record(deliveries, results, now=now)
    nudge_retries(deliveries, now)
    return changes


# --- sweep -------------------------------------------------------------------------------


def sweep(*, now=None, limit=1000):
    """Recovers lost work; returns the ids of the messages it re-queued.

    - claims older than DELIVERY_CLAIM_TIMEOUT belonged to a worker that died: back to queued;
    - queued deliveries due and untouched for DELIVERY_REQUEUE_AFTER lost their task (broker
      down at send, Redis restarted without persistence, a countdown lost with its worker), or
      are retries whose delay was too long for a countdown (due now, recorded long ago).
    """
    now = now or timezone.now()
    requeue_after = timedelta(seconds=settings.DELIVERY_REQUEUE_AFTER)
    claimed_before = now - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT)
    message_ids = set()
    with transaction.atomic():
        stale = list(
            Delivery.objects.filter(state=Delivery.SENDING, claimed_at__lt=claimed_before)
            .select_for_update(skip_locked=True)
            .values_list("id", "message_id")[:limit]
        )
        if stale:
            Delivery.objects.filter(id__in=[i for i, _ in stale], state=Delivery.SENDING).update(
                state=Delivery.QUEUED, next_attempt_at=None, last_error="worker lost during the attempt", updated_at=now
            )
            logger.warning("Re-queued %d deliveries claimed by a lost worker", len(stale))
            message_ids.update(m for _, m in stale)
        overdue = list(
            Delivery.objects.filter(state=Delivery.QUEUED, updated_at__lte=now - requeue_after)
            .annotate(due_at=Coalesce("next_attempt_at", "created_at"))
            .filter(due_at__lte=now)
            .select_for_update(skip_locked=True)
            .values_list("id", "message_id")[:limit]
        )
        if overdue:
            # Touching updated_at means a nudge that gets lost again is retried after REQUEUE_AFTER.
            Delivery.objects.filter(id__in=[i for i, _ in overdue], state=Delivery.QUEUED).update(updated_at=now)
            message_ids.update(m for _, m in overdue)
    for message_id in sorted(message_ids):
        nudge(message_id)
    return sorted(message_ids)
