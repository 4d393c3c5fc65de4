import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
application = get_wsgi_application()

from kilopush.celery import use_send_path_timeouts  # noqa: E402
from kilopush.checks_secret import refuse_to_start  # noqa: E402

refuse_to_start()  # a deployment without SECRET_KEY stops here (kilopush.E100), also outside gunicorn
use_send_path_timeouts()
