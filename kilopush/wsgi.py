"""The WSGI application: Django's handler, with the send API on a middleware chain of its own.

POST /v1/messages/send is the hot path (docs/benchmarks.md). It uses no session, user,
CSRF token, flash message or static file, so its requests skip those middleware and
go through settings.MIDDLEWARE less settings.SEND_MIDDLEWARE_SKIP, in the same order:
the error envelope, the body-size limit, the security headers and anything added to
MIDDLEWARE later (CORS) still apply. Every other path takes the full stack.
"""

import os

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

from kilopush.middleware import SEND_PATH

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")


def send_middleware():
    return [name for name in settings.MIDDLEWARE if name not in settings.SEND_MIDDLEWARE_SKIP]


class SendAPIHandler(WSGIHandler):
    """A WSGIHandler whose middleware chain is send_middleware()."""

    def load_middleware(self, is_async=False):
        # BaseHandler reads settings.MIDDLEWARE; swapped only while this chain is built, at start-up.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = send_middleware()
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class Application:
    def __init__(self):
        self.full = WSGIHandler()
        self.send_api = SendAPIHandler()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == SEND_PATH:
            return self.send_api(environ, start_response)
        return self.full(environ, start_response)


def get_application():
    django.setup(set_prefix=False)
    return Application()


application = get_application()

from kilopush.celery import use_send_path_timeouts  # noqa: E402
from kilopush.checks_secret import refuse_to_start  # noqa: E402

refuse_to_start()  # a deployment without SECRET_KEY stops here (kilopush.E100), also outside gunicorn
use_send_path_timeouts()
