"""Data retention: old messages, finished deliveries and daily quota counters are deleted in batches.

Each batch is its own short transaction that touches only old rows (SKIP LOCKED), so the send
path, which only inserts new rows, never waits on it for long. Run by beat (messaging.tasks.
purge_old_rows) every RETENTION_INTERVAL; `python -m bench.retention` measures a batch.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_app.models import ChannelDailyCount
from channels_app.quota import utc_today

from . import attachments
from .models import AttachmentDay, Delivery, Message

logger = logging.getLogger(__name__)

FINISHED_STATES = (Delivery.ACCEPTED, Delivery.INVALID_TOKEN, Delivery.REJECTED, Delivery.EXPIRED)


def _in_batches(ids_of_next_batch, delete, *, batch_size, timings):
    total = 0
    while True:
        started = time.perf_counter()
        with transaction.atomic():
            ids = ids_of_next_batch(batch_size)
            if ids:
                delete(ids)
        if ids:
            timings.append(time.perf_counter() - started)
        total += len(ids)
        if len(ids) < batch_size:
            return total


def _first_message_id_since(cutoff):
    """Messages are numbered in creation order: the first id created at or after `cutoff`, or None."""
    return Message.objects.filter(created_at__gte=cutoff).order_by("created_at", "id").values_list("id", flat=True).first()


def purge_deliveries(*, now, batch_size, timings):
    """Finished deliveries of messages older than DELIVERY_RETENTION_DAYS."""
    if settings.DELIVERY_RETENTION_DAYS <= 0:
        return 0
    boundary = _first_message_id_since(now - timedelta(days=settings.DELIVERY_RETENTION_DAYS))
    old = Delivery.objects.filter(state__in=FINISHED_STATES)
    if boundary is not None:
        old = old.filter(message_id__lt=boundary)

    def next_batch(n):
        return list(old.order_by("message_id").select_for_update(skip_locked=True).values_list("id", flat=True)[:n])

    return _in_batches(next_batch, lambda ids: Delivery.objects.filter(id__in=ids).delete(),
                       batch_size=batch_size, timings=timings)


def purge_messages(*, now, batch_size, timings):
    """Messages older than MESSAGE_RETENTION_DAYS, with whatever hangs on them (their deliveries)."""
    if settings.MESSAGE_RETENTION_DAYS <= 0:
        return 0
    old = Message.objects.filter(created_at__lt=now - timedelta(days=settings.MESSAGE_RETENTION_DAYS))

    def next_batch(n):
        return list(old.order_by("created_at").select_for_update(skip_locked=True).values_list("id", flat=True)[:n])

    def delete(ids):
        batch = Message.objects.filter(id__in=ids)
        attachments.delete_files_on_commit(attachments.files_of(batch))  # after the batch commits
        batch.delete()

    return _in_batches(next_batch, delete, batch_size=batch_size, timings=timings)


def purge_daily_counts(*, now, batch_size, timings):
    """Daily quota counters of days before the last DAILY_COUNT_RETENTION_DAYS (only today's is ever read)."""
    old = ChannelDailyCount.objects.filter(day__lt=utc_today(now) - timedelta(days=settings.DAILY_COUNT_RETENTION_DAYS))

    def next_batch(n):
        return list(old.order_by("id").select_for_update(skip_locked=True).values_list("id", flat=True)[:n])

    counted = _in_batches(next_batch, lambda ids: ChannelDailyCount.objects.filter(id__in=ids).delete(),
                          batch_size=batch_size, timings=timings)
    # The attachments' daily byte counters go with them.
    old_bytes = AttachmentDay.objects.filter(day__lt=utc_today(now) - timedelta(days=settings.DAILY_COUNT_RETENTION_DAYS))

    def next_bytes_batch(n):
        return list(old_bytes.order_by("id").select_for_update(skip_locked=True).values_list("id", flat=True)[:n])

    return counted + _in_batches(next_bytes_batch, lambda ids: AttachmentDay.objects.filter(id__in=ids).delete(),
                                 batch_size=batch_size, timings=timings)


def purge(*, now=None, batch_size=None):
    """Deletes everything past its retention; returns {"deliveries": n, "messages": n, "daily_counts": n,
    "batches": n, "longest_batch_seconds": s}."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    timings = []
    deleted = {
        "deliveries": purge_deliveries(now=now, batch_size=batch_size, timings=timings),
        "messages": purge_messages(now=now, batch_size=batch_size, timings=timings),
        "daily_counts": purge_daily_counts(now=now, batch_size=batch_size, timings=timings),
    }
    if any(deleted.values()):
        logger.info("Retention: deleted %(deliveries)d deliveries, %(messages)d messages, "
                    "%(daily_counts)d daily counters", deleted)
    return {**deleted, "batches": len(timings), "longest_batch_seconds": max(timings, default=0.0)}
