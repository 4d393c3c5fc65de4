from celery import shared_task


@shared_task
def prune_inbox_events():
    from .services import inbox_events_prune

    return inbox_events_prune()
