import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")

app = Celery("kilopush")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
