"""Signed webhooks to a channel's owner (issue 24): events recorded as rows, POSTed at least once.

An event is recorded in the transaction of what caused it (only for a channel with a webhook), and a
worker is nudged after the commit; the sweep (beat) re-sends what is due, claims lost with a worker
included. Each attempt is signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), with the same `webhook-id` on
every retry, and goes through kilopush.outbound (the SSRF guard, no redirects, a timeout).
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_app.models import Channel
from kilopush import metrics, outbound

from .models import ScheduledMessage, WebhookEvent
from .tasks_by_name import queued

logger = logging.getLogger(__name__)

DELIVERED, READ, ACKNOWLEDGED = "message.delivered", "message.read", "message.acknowledged"
FAILED, EXPIRED, ACTION_PRESSED = "message.failed", "message.expired", "action.pressed"
ONCE_PER_MESSAGE = (DELIVERED, READ, ACKNOWLEDGED, FAILED, EXPIRED)


def _iso(when):
    return when.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def event_record(*, channel_ids, type, message_ids, data=None, now=None):
    """Records `type` for each (channel, message) pair whose channel has a webhook; nudges after the commit.

    `channel_ids` and `message_ids` are parallel lists. Returns how many events were recorded.
    """
    now = now or timezone.now()
    hooked = set(Channel.objects.filter(id__in=set(channel_ids)).exclude(webhook_url="").values_list("id", flat=True))
    events = []
    pairs = [(channel, message) for channel, message in zip(channel_ids, message_ids) if channel in hooked]
    # A scheduled message's events name the id its sender was given, not the released message's.
    sender_ids = dict(ScheduledMessage.objects.filter(message_id__in=[m for _, m in pairs])
                      .values_list("message_id", "id")) if pairs else {}
    for channel_id, message_id in pairs:
        message_id = sender_ids.get(message_id, message_id)
        webhook_id = "msg_" + uuid.uuid4().hex
        body = {"type": type, "timestamp": _iso(now), "data": {"id": str(message_id), **(data or {})}}
        events.append(WebhookEvent(
            channel_id=channel_id, type=type, message_id=message_id, webhook_id=webhook_id,
            dedupe_key=f"{type}:{message_id}" if type in ONCE_PER_MESSAGE else None,
            payload=json.dumps(body, separators=(",", ":")), created_at=now, updated_at=now,
        ))
    if not events:
        return 0
    WebhookEvent.objects.bulk_create(events, ignore_conflicts=True)
    transaction.on_commit(nudge)
    return len(events)


def nudge(countdown=None):
    try:
        queued("messaging.tasks.deliver_webhooks").apply_async(countdown=countdown)
    except Exception:
        logger.warning("Could not queue webhook delivery; the sweep will", exc_info=True)


# --- signing ---


def signature(secret, webhook_id, timestamp, body):
    """Standard Webhooks: v1,<base64 HMAC-SHA256 with the secret's bytes of "id.timestamp.body">."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers_for(secret, webhook_id, body, timestamp=None):
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    return {"Content-Type": "application/json", "User-Agent": "KILO.Push-Webhooks",
            "webhook-id": webhook_id, "webhook-timestamp": timestamp,
            "webhook-signature": signature(secret, webhook_id, timestamp, body)}


# --- delivery: claim, post, record ---


def _due(now):
    return Q(state=WebhookEvent.QUEUED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def claim(*, now, limit=50):
    with transaction.atomic():
        ids = list(WebhookEvent.objects.filter(_due(now)).order_by("id").select_for_update(skip_locked=True)
                   .values_list("id", flat=True)[:limit])
        if ids:
            WebhookEvent.objects.filter(id__in=ids, state=WebhookEvent.QUEUED).update(
                state=WebhookEvent.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    return list(WebhookEvent.objects.filter(id__in=ids, state=WebhookEvent.SENDING, claimed_at=now)
                .select_related("channel").order_by("id"))


def retry_delay(attempts):
    return min(settings.WEBHOOK_RETRY_BASE_DELAY * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_DELAY)


def attempt(event, client=None, secrets=None):
    """POSTs one claimed event; returns (outcome, status, error): outcome delivered, retry or refused.

    `client`: an outbound.Client kept for a pass (its connections reused); `secrets`: the pass's channel secrets.
    """
    channel = event.channel
    if not channel.webhook_url:
        return "refused", None, "the channel has no webhook any more"
    if secrets is None:
        secrets = {}
    if channel.pk not in secrets:
        secrets[channel.pk] = channel.webhook_secret  # decrypted once per channel and pass
    body = event.payload.encode()
    headers = headers_for(secrets[channel.pk], event.webhook_id, body)
    try:
        if client is None:
            answer = outbound.post(channel.webhook_url, body, headers=headers, allow_hosts=settings.WEBHOOK_ALLOW_HOSTS,
                                   timeout=settings.WEBHOOK_TIMEOUT)
        else:
            answer = client.post(channel.webhook_url, body, headers=headers)
    except outbound.Refused as exc:
        return "refused", None, str(exc)  # the guard said no at send time (its name now resolves privately)
    if answer.ok:
        return "delivered", answer.status, ""
    return "retry", answer.status, answer.error or f"HTTP {answer.status}"


# A pass claims this many events at a time, and claims again while its time lasts and events are due.
CLAIM_SIZE = 100
PASS_SECONDS = 10.0


def deliver_due(*, now=None, pass_seconds=PASS_SECONDS):
    """One pass: claims due events, posts each, records the answers; returns {event id: outcome}.

    Claims again while events are due, for at most `pass_seconds` (then the next nudge or the sweep goes on).
    One outbound.Client serves the pass: a receiver's connection is kept between its events.
    """
    started = time.monotonic()
    outcomes = {}
    secrets = {}
    with outbound.Client(allow_hosts=settings.WEBHOOK_ALLOW_HOSTS, timeout=settings.WEBHOOK_TIMEOUT) as client:
        while True:
            claimed = claim(now=now or timezone.now(), limit=CLAIM_SIZE)
            if not claimed:
                break
            _deliver_claimed(claimed, client, secrets, outcomes)
            if len(claimed) < CLAIM_SIZE or time.monotonic() - started > pass_seconds or now is not None:
                break
    return outcomes


def _deliver_claimed(claimed, client, secrets, outcomes):
    delivered = []  # (event id, status, when): recorded together, in one statement
    for event in claimed:
        outcome, status, error = attempt(event, client, secrets)
        done = timezone.now()
        if outcome == "delivered":
            delivered.append((event.pk, status, done))
            outcomes[event.pk] = outcome
            continue
        fields = {"last_status": status, "last_error": error[:1000], "updated_at": done, "claimed_at": None}
        later = done + timedelta(seconds=retry_delay(event.attempts))
        if outcome == "refused" or later > event.created_at + timedelta(seconds=settings.WEBHOOK_MAX_AGE):
            fields.update(state=WebhookEvent.FAILED, next_attempt_at=None)
            outcome = "failed" if outcome == "retry" else outcome
        else:
            fields.update(state=WebhookEvent.QUEUED, next_attempt_at=later)
        WebhookEvent.objects.filter(id=event.pk, state=WebhookEvent.SENDING).update(**fields)
        metrics.webhook_attempted(outcome)
        outcomes[event.pk] = outcome
        if fields["state"] == WebhookEvent.QUEUED and retry_delay(event.attempts) <= settings.DELIVERY_COUNTDOWN_MAX:
            nudge(countdown=retry_delay(event.attempts))
    if delivered:
        _record_delivered(delivered)
        metrics.webhook_attempted("delivered", len(delivered))


def _record_delivered(delivered):
    """Marks events delivered, each with its own status and time: one UPDATE with CASE on every backend.

    Plain SQL: built with the ORM (Case(When(id=…)) three times over a batch), the statement cost more of the
    worker's CPU than the POSTs it records (issue 27, target 4).
    """
    when = connection.ops.adapt_datetimefield_value
    cases = " ".join(["WHEN %s THEN %s"] * len(delivered))
    statuses = [value for event_id, code, _ in delivered for value in (event_id, code)]
    times = [value for event_id, _, done in delivered for value in (event_id, when(done))]
    ids = [event_id for event_id, _, _ in delivered]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {WebhookEvent._meta.db_table} SET state = %s, last_status = CASE id {cases} END, last_error = '', "
            f"updated_at = CASE id {cases} END, delivered_at = CASE id {cases} END, claimed_at = NULL, "
            f"next_attempt_at = NULL WHERE id IN ({', '.join(['%s'] * len(ids))}) AND state = %s",
            [WebhookEvent.DELIVERED, *statuses, *times, *times, *ids, WebhookEvent.SENDING])


def sweep(*, now=None):
    """Beat: claims lost with a worker go back to queued; anything due is sent."""
    now = now or timezone.now()
    WebhookEvent.objects.filter(
        state=WebhookEvent.SENDING, claimed_at__lt=now - timedelta(seconds=settings.WEBHOOK_TIMEOUT * 3 + 30)
    ).update(state=WebhookEvent.QUEUED, next_attempt_at=None, last_error="worker lost during the attempt", updated_at=now)
    return deliver_due(now=now)


# --- what the pipeline and the inbox tell ---


def after_pushes(deliveries, *, now=None):
    """After record(): message.delivered for a first accepted push, message.failed when no device can be reached.

    Reads the channel's webhook_url from the claim's rows: nothing more is asked of the database without one.
    """
    from .models import Delivery, Message

    hooked = [d for d in deliveries if d.kind == Delivery.PUSH and d.message.channel.webhook_url]
    if not hooked:
        return
    accepted = {d.message_id: d.message.channel_id for d in hooked if d.state == Delivery.ACCEPTED}
    if accepted:
        event_record(channel_ids=list(accepted.values()), type=DELIVERED, message_ids=list(accepted), now=now)
    ended = {d.message_id: d.message.channel_id for d in hooked
             if d.state in (Delivery.INVALID_TOKEN, Delivery.REJECTED, Delivery.EXPIRED)}
    if ended:
        alive = set(Delivery.objects.filter(
            message_id__in=list(ended), kind=Delivery.PUSH,
            state__in=(Delivery.QUEUED, Delivery.SENDING, Delivery.ACCEPTED)).values_list("message_id", flat=True))
        # Acknowledged meanwhile (the rows in hand were read before): it reached its recipient after all.
        alive.update(Message.objects.filter(id__in=list(ended), acknowledged_at__isnull=False)
                     .values_list("id", flat=True))
        failed = {m: c for m, c in ended.items() if m not in alive}
        if failed:
            event_record(channel_ids=list(failed.values()), type=FAILED, message_ids=list(failed), now=now)


def messages_read(*, user, message_ids):
    """message.read, only when the recipient allows read receipts."""
    from .models import Message

    if not user.read_receipts or not message_ids:
        return
    rows = list(Message.objects.filter(id__in=message_ids, channel__webhook_url__gt="").values_list("channel_id", "id"))
    if rows:
        event_record(channel_ids=[c for c, _ in rows], type=READ, message_ids=[m for _, m in rows])


def action_press(*, user, message_id, action_id):
    """The recipient pressed a callback action of one of their messages: action.pressed. False: no such one."""
    from .models import Message

    message = Message.objects.in_inbox().filter(recipient=user, id=message_id).only("id", "channel_id", "actions").first()
    actions = json.loads(message.actions) if message is not None and message.actions else []
    if not any(a["type"] == "callback" and a["id"] == action_id for a in actions):
        return False
    with transaction.atomic():
        event_record(channel_ids=[message.channel_id], type=ACTION_PRESSED, message_ids=[message.pk],
                     data={"action": action_id})
    return True


def recent_for_channel(channel_id, limit=20):
    return list(WebhookEvent.objects.filter(channel_id=channel_id).order_by("-id")[:limit])
