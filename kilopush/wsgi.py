"""The WSGI application: Django's handler, with the send API on a middleware chain of its own.

POST /v1/messages/send is the hot path (docs/benchmarks.md), and so are the sends through a key:
the hook (/v1/hooks/KEY), Gotify's /message and ntfy's /KEY. They use no session, user, CSRF token
(they are exempt), flash message or static file, so their requests skip those middleware and
go through settings.MIDDLEWARE less settings.SEND_MIDDLEWARE_SKIP, in the same order:
the error envelope, the body-size limit, the security headers and anything added to
MIDDLEWARE later (CORS) still apply. Every other path takes the full stack.
Their URLs are resolved once per URLconf and path (the last MATCHES_KEPT paths: a key's path repeats),
not on every request: ntfy's /KEY is the URLconf's last pattern, 50 regexes down.
"""

import os

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.urls import get_resolver, get_urlconf

from kilopush.middleware import GOTIFY_PATH, HOOK_PATH, NTFY_TOPIC_PATH, SEND_PATH

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")


def send_middleware():
    return [name for name in settings.MIDDLEWARE if name not in settings.SEND_MIDDLEWARE_SKIP]


def takes_send_chain(path):
    """The send API and the sends through a key: the paths that go through send_middleware()."""
    return path == SEND_PATH or path == GOTIFY_PATH or bool(HOOK_PATH.match(path) or NTFY_TOPIC_PATH.match(path))


MATCHES_KEPT = 1024  # resolved send-chain paths kept per process


class SendAPIHandler(WSGIHandler):
    """A WSGIHandler whose middleware chain is send_middleware()."""

    def __init__(self):
        super().__init__()
        self._matches = {}  # (URL resolver, path): its ResolverMatch (the same on every request)

    def resolve_request(self, request):
        if hasattr(request, "urlconf"):
            return super().resolve_request(request)
        resolver = get_resolver(get_urlconf())
        key = (resolver, request.path_info)
        match = self._matches.get(key)
        if match is None:
            match = resolver.resolve(request.path_info)  # a Resolver404 is not kept
            if len(self._matches) >= MATCHES_KEPT:
                self._matches.clear()
            self._matches[key] = match
        request.resolver_match = match
        return match

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
        if takes_send_chain(environ.get("PATH_INFO", "")):
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
