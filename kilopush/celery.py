import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")

app = Celery("kilopush")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _check_worker_configuration(**kwargs):
    from kilopush.checks import run_at_startup

    run_at_startup("worker")


@signals.beat_init.connect
def _check_beat_configuration(**kwargs):
    from kilopush.checks import run_at_startup

    run_at_startup("beat")


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_like_a_request(**kwargs):
    """Before and after each task, as Django does around each request: a connection is closed only when it
    is older than CONN_MAX_AGE or unusable after an error (settings.CELERY_DB_REUSE_MAX keeps Celery from
    closing it every time)."""
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_process_shutdown.connect
def _forget_live_gauges(**kwargs):
    from kilopush.metrics import mark_this_process_dead

    mark_this_process_dead()


def use_send_path_timeouts():
    """The web process publishes nudges with REDIS_TIMEOUT: a frozen broker must not hold a send.

    Workers keep the longer broker timeouts of settings.py (their connections also consume).
    """
    from django.conf import settings

    if settings.REDIS_URL:
        timeouts = {"socket_timeout": settings.REDIS_TIMEOUT, "socket_connect_timeout": settings.REDIS_TIMEOUT}
        app.conf.broker_transport_options = {**app.conf.broker_transport_options, **timeouts}
