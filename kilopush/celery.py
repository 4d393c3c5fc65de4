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


@signals.worker_process_shutdown.connect
def _forget_live_gauges(**kwargs):
    from kilopush.metrics import mark_this_process_dead

    mark_this_process_dead()
