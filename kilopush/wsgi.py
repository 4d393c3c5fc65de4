import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
application = get_wsgi_application()

from kilopush.checks_secret import refuse_to_start  # noqa: E402

refuse_to_start()  # gunicorn runs no system checks: a deployment without SECRET_KEY stops here (kilopush.E100)
