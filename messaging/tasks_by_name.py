"""Queueing a Celery task of messaging/tasks.py by its name.

tasks.py is the thin top of messaging (load, call a service, retry): it imports queueing, webhooks and
services, so they must not import it back (pyproject.toml's contract "messaging: tasks on top").
MessagingConfig.ready imports tasks.py, so every process has the tasks registered.
"""

from celery import current_app


def queued(name):
    """The registered task `name` (e.g. "messaging.tasks.deliver_message"), to call apply_async on."""
    return current_app.tasks[name]
