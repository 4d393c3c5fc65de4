"""Inbox events (a read, a delete, an acknowledgement) for the user's live streams, and the account wake-up.

messaging records the fact (a row in the change's transaction, then a wake-up after commit); the
stream process (stream_app) only transports it.
"""

import json
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from . import wake
from .models import InboxEvent

# How long InboxEvents are kept: far above the stream's re-read window, which is seconds.
EVENT_RETENTION = timedelta(hours=1)


def inbox_event_record(*, user_id, kind, data):
    """Records a read, a delete or an acknowledgement for the user's streams; call it inside the change's transaction.

    The stream processes find the row by id (the wake-up after commit only hurries them).
    """
    InboxEvent.objects.create(
        user_id=user_id, kind=kind, data=json.dumps(data, separators=(",", ":")), created_at=timezone.now()
    )
    transaction.on_commit(lambda: wake.publish(wake.EVENT, user_id))


def account_changed(*, user_id):
    """The user's access token died (account deleted): their streams close at once (or at the next check)."""
    transaction.on_commit(lambda: wake.publish(wake.ACCOUNT, user_id))


def inbox_events_prune(*, now=None):
    """Deletes InboxEvents older than EVENT_RETENTION; returns how many."""
    now = now or timezone.now()
    deleted, _ = InboxEvent.objects.filter(created_at__lt=now - EVENT_RETENTION).delete()
    return deleted
