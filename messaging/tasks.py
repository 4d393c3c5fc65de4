from celery import shared_task
from celery.signals import worker_init
from django.conf import settings


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_message(message_id):
    """Pushes a batch of due deliveries, this message's first (the delivery pipeline)."""
    from .queueing import deliver_batch

    deliver_batch(message_id)


@shared_task(expires=max(settings.DELIVERY_SWEEP_INTERVAL, 1))
def sweep_deliveries():
    """Beat: re-queues lost, stale and due deliveries."""
    from .queueing import sweep

    sweep()


@shared_task(expires=max(settings.MESSAGE_EXPIRY_INTERVAL, 1))
def expire_messages_task():
    """Beat: messages past their ttl leave the inbox; removed ones are forgotten after MESSAGE_STATUS_DAYS."""
    from .services import messages_expire

    messages_expire()


@worker_init.connect
def _say_which_providers(**kwargs):
    from .providers import startup_report

    startup_report()


@shared_task(expires=max(settings.METRICS_SAMPLE_INTERVAL, 1))
def sample_metrics():
    """Beat: samples kilopush_due_deliveries (the queue depth, from the Delivery rows, not the broker)."""
    from kilopush import metrics

    from .selectors import due_deliveries_count

    metrics.DUE_DELIVERIES.set(due_deliveries_count())


@shared_task(expires=max(settings.RETENTION_INTERVAL, 60))
def purge_old_rows():
    """Beat: deletes messages, deliveries and daily counters past their retention, in batches."""
    from . import retention

    retention.purge()


@shared_task(expires=max(settings.EMERGENCY_REPEAT_INTERVAL, 1))
def repeat_emergencies():
    """Beat: re-queues the emergencies' repeats that are due; ends those past their expire (issue 24)."""
    from .emergency import emergencies_tick

    emergencies_tick()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_webhooks():
    """Posts the due webhook events (issue 24)."""
    from .webhooks import deliver_due

    deliver_due()


@shared_task(expires=max(settings.WEBHOOK_SWEEP_INTERVAL, 1))
def sweep_webhooks():
    """Beat: webhook events due (retries, lost nudges, lost claims) are posted."""
    from .webhooks import sweep

    sweep()


@shared_task(expires=max(settings.SCHEDULED_RELEASE_INTERVAL, 1))
def release_scheduled():
    """Beat: delivers the scheduled messages whose `at` has come (issue 24)."""
    from .scheduling import release_due

    release_due()


@shared_task
def prune_inbox_events():
    """Beat: inbox events past their retention (an hour) are deleted."""
    from .inbox_events import inbox_events_prune

    return inbox_events_prune()
