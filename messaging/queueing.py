"""Queueing delivery work: nudges (Celery tasks) for committed messages, one delivery pass, the sweep.

The queue is only a nudge: a lost task costs latency, never a push, because the sweep finds
the Delivery rows again. Tasks are queued by name (tasks_by_name.queued): tasks.py is the thin top of
messaging and calls this module, never the other way round.
"""

import atexit
import logging
import os
import threading
import time
from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from kilopush.cache import redis_breaker, redis_usable, round_trip

from . import delivery, webhooks
from . import wake as stream_wake
from .models import Delivery
from .tasks_by_name import queued

logger = logging.getLogger(__name__)


# --- nudge -------------------------------------------------------------------------------


def nudge(message_id, countdown=None):
    """Queues a task for the message; if the broker is down the sweep finds the rows later."""
    if settings.REDIS_URL and not redis_usable():
        return False  # Redis failed a moment ago (circuit breaker): the sweep picks the rows up
    try:
        queued("messaging.tasks.deliver_message").apply_async((message_id,), countdown=countdown)
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


def nudge_coalesced(message_id, *, recipient_id=None):
    """Queues a task unless one is already waiting; without Redis (embedded) always queues.

    With `recipient_id`, the recipient's streams are woken in the same Redis round trip. With Redis,
    concurrent calls of one process share that round trip (`_batch`). `message_id` None: a message
    with nothing to push (no device), whose streams are woken without a task.
    """
    if settings.REDIS_URL and not redis_usable():
        return  # Redis failed a moment ago (circuit breaker): the sweep delivers, streams poll
    if settings.REDIS_URL and settings.DELIVERY_NUDGE_COALESCE:
        _batch.add(message_id, recipient_id)
        return
    if recipient_id is not None:
        stream_wake.publish(stream_wake.MESSAGE, recipient_id)
    if message_id is not None:
        nudge(message_id)


class _NudgeBatch:
    """Group commit of the send path's nudges: one Redis round trip for the sends that commit meanwhile.

    The first caller flushes: one pipeline with the "task waiting" flag (SET NX) and a wake-up per
    recipient, then a task if none was waiting. Sends of other threads that commit while it waits
    on Redis only add their nudge and return. An idle platform pays no delay: a lone send flushes
    its own nudge before it answers.

    Under load the round trips linger (DELIVERY_NUDGE_LINGER_MS, 5 ms): the nudges added while one is in
    flight, or less than the linger after it began, wait for the process's lingering thread, which sends
    them all in one round trip once the linger is up. A process then makes at most one round trip per
    linger (200 a second at 5 ms) however many sends it accepts, and a nudge waits at most the linger
    and a round trip. With no linger (0) the flushing thread itself sends them next, until none is left.
    A nudge lost with its process costs latency, never a push (the sweep finds the rows); a process
    that exits normally sends what it holds first (atexit).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = []
        self._owner = None  # who takes what is pending: a send's thread (_SENDER) or the lingering one (_LINGER)
        self._last = -1e9  # monotonic time the last round trip began
        self._due = threading.Condition(self._lock)
        self._lingering = None

    def add(self, message_id, recipient_id):
        linger = settings.DELIVERY_NUDGE_LINGER_MS / 1000
        with self._lock:
            self._pending.append((message_id, recipient_id))
            if self._owner is not None:
                return
            if linger > 0 and monotonic() - self._last < linger:
                self._hand_over()
                return
            self._owner = _SENDER
        self._drain(linger)

    def _hand_over(self):
        """What is pending goes to the lingering thread (the lock is held)."""
        self._owner = _LINGER
        if self._lingering is None or not self._lingering.is_alive():
            self._lingering = threading.Thread(target=self._linger, name="nudge-linger", daemon=True)
            self._lingering.start()
        self._due.notify()

    def _take(self):
        """The pending nudges, or None (and nobody flushing) when there are none."""
        with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                self._owner = None
                return None
            self._last = monotonic()
            return batch

    def _drain(self, linger):
        """A send's thread: its round trip, then the nudges added meanwhile (the next round trip waits for
        the lingering thread if there is a linger, else this thread makes it too)."""
        while (batch := self._take()) is not None:
            _send_batch(batch)
            if linger > 0:
                with self._lock:
                    if self._pending:
                        self._hand_over()
                    else:
                        self._owner = None
                return

    def _linger(self):
        while True:
            try:
                self._linger_once()
            except Exception:  # the thread must live on: the process's nudges wait for it
                logger.exception("The nudges' lingering thread failed; going on")
                time.sleep(0.1)

    def _linger_once(self):
        with self._lock:
            while not (self._owner is _LINGER and self._pending):
                self._due.wait()
            wait = self._last + settings.DELIVERY_NUDGE_LINGER_MS / 1000 - monotonic()
        if wait > 0:
            time.sleep(wait)
        batch = self._take()
        if batch is not None:
            _send_batch(batch)
            with self._lock:
                if not self._pending:
                    self._owner = None

    def flush(self):
        """Sends what waits for the lingering thread now (a process about to exit)."""
        batch = self._take()
        if batch is not None:
            _send_batch(batch)

    def forget(self):
        """In a forked child: the parent's pending nudges and its flushing thread are not ours."""
        self.__init__()


_SENDER, _LINGER = "sender", "linger"


def _send_batch(batch):
    try:
        _flush(batch)
    except Exception:
        logger.exception("Nudging %d sends failed; the sweep will pick them up", len(batch))


def _flush(batch):
    """One round trip for a batch of (message id, recipient id): the flag, the wake-ups, then a task if needed.

    A message id None is a wake-up alone (nudge_coalesced): a batch of only those sets no flag and queues no task.
    """
    message_id = next((m for m, _ in batch if m is not None), None)
    try:
        # The flag as cache.add() writes it (the same key; an int is stored as its digits), then the wake-ups.
        commands = [("SET", cache.make_and_validate_key(NUDGE_PENDING_KEY), message_id, "EX",
                     settings.DELIVERY_NUDGE_PENDING_TTL, "NX")] if message_id is not None else []
        commands += [stream_wake.publish_command(stream_wake.MESSAGE, recipient_id)
                     for recipient_id in dict.fromkeys(r for _, r in batch if r is not None)]
        replies = round_trip(stream_wake.redis_client(), commands)
        if message_id is None or not replies[0]:
            return  # a waiting task claims every delivery committed before it starts
    except Exception as exc:
        redis_breaker.trip(exc)  # round_trip does not pass through BreakerRedis.execute_command
        if message_id is None:
            logger.warning("Stream wake-ups lost (Redis unavailable); streams find them by polling", exc_info=True)
            return
        logger.warning("Nudge flag unavailable; queueing a task", exc_info=True)
    nudge(message_id)


_batch = _NudgeBatch()
os.register_at_fork(after_in_child=_batch.forget)
atexit.register(_batch.flush)


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


# A task keeps its slot's window claiming (delivery.push) this long at most, then a fresh task carries on:
# a worker's warm shutdown waits for its tasks, so none may run for as long as the load lasts.
WINDOW_FOR = 5.0


def deliver_batch(message_id):
    """One pass: claim half a batch (this message first), push it and record the answers, schedule retries;
    while the claims come back full, the next halves are claimed and pushed as the answers come (push())."""
    nudge_taken()
    half = max(settings.DELIVERY_BATCH_SIZE // 2, 1)
    deliveries = delivery.claim(message_id, limit=half)
    if not deliveries:
        return {}
    claim_more = None
    if len(deliveries) >= half:
        until = monotonic() + WINDOW_FOR
        nudged = False

        def claim_more(limit):
            nonlocal nudged
            if monotonic() >= until:
                nudge(None)  # this task pushed long enough: a fresh one carries on
                return []
            more = delivery.claim(message_id, limit=limit)
            if not nudged and len(more) >= limit:
                nudged = True
                nudge(None)  # a whole batch was due, maybe more: another worker process takes some meanwhile
            return more

    # each answer recorded as it comes, the claims renewed meanwhile
    return delivery.push(deliveries, claim_more=claim_more, finished=after_pushes)


def after_pushes(deliveries):
    """A claim's deliveries are all recorded: webhooks, retries, withdraw and dismiss pushes for what was withdrawn
    or acknowledged meanwhile."""
    now = timezone.now()
    webhooks.after_pushes(deliveries, now=now)  # issue 24: message.delivered / message.failed
    nudge_retries(deliveries, now)
    for message_id in delivery.taken_away_in_flight(deliveries, now=now):
        nudge(message_id)  # withdrawn or acknowledged while its push was in flight: withdraw or dismiss goes now


# --- sweep -------------------------------------------------------------------------------


def sweep(*, now=None, limit=1000):
    """Recovers lost work; returns the ids of the messages it re-queued.

    - claims not renewed for DELIVERY_CLAIM_TIMEOUT belonged to a worker that died (a live one renews
      its batch's claim every third of that): back to queued;
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
            Delivery.objects.filter(delivery.due(now), updated_at__lte=now - requeue_after)
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
