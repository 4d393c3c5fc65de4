"""The ASGI application of the `stream` process (uvicorn): the live stream, and the rest of the platform too."""

import os

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")

STREAM_PATH = "/v1/app/stream"
# A stream needs no session, user, messages or CSRF: only the security headers (the view renders its own errors).
STREAM_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]


class StreamHandler(ASGIHandler):
    """Django's ASGI handler for long-lived streams: a short middleware chain, and no thread of its own.

    Django gives every request a thread for its synchronous code (signals, synchronous middleware),
    kept until the response ends: one per open stream, for hours. A stream runs those steps once, at
    its start, so it shares asgiref's one thread instead (see `__call__` below).
    """

    def load_middleware(self, is_async=False):
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = STREAM_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything


class Application:
    def __init__(self):
        self.platform = ASGIHandler()
        self.stream = StreamHandler()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            await self.stream.handle(scope, receive, send)  # ASGIHandler.__call__ minus ThreadSensitiveContext
        else:
            await self.platform(scope, receive, send)


django.setup(set_prefix=False)
application = Application()
