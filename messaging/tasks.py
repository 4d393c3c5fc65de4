from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_message(message_id):
    """Pushes a message's queued deliveries (the delivery pipeline)."""
    from . import delivery

    delivery.deliver_message(message_id)
