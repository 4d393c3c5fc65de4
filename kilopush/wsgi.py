import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
application = get_wsgi_application()

from kilopush.celery import use_send_path_timeouts  # noqa: E402

use_send_path_timeouts()
