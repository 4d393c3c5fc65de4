"""The ASGI application of the `stream` process (uvicorn): the live stream, and nothing else.

Every other path is the web's (gunicorn): here it is a 404 envelope, so that nothing behind the web's
protections (its slow-client reader, its throttles' address rule) can be reached around them.
"""

import asyncio
import json
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


async def _answer(send, http_status, status, message):
    """An envelope, sent without Django; the connection closes after it."""
    body = json.dumps({"response": {"status": status, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _capped_receive(scope, receive, send):
    """Django's ASGI handler reads a whole body, of any size, before any middleware runs: the path's
    cap (kilopush.middleware.body_limit) is applied first, reading incrementally, chunked bodies included.

    Returns a receive callable replaying the body for Django, or None when the request was refused.
    The body must arrive within WEB_READ_TIMEOUT, as on the web.
    """
    try:
        async with asyncio.timeout(settings.WEB_READ_TIMEOUT):
            return await _read_body(scope, receive, send)
    except TimeoutError:
        await _answer(send, 408, 4000, "Request body not received in time")
        return None


async def _read_body(scope, receive, send):
    headers = dict(scope.get("headers") or ())
    limit = body_limit(scope["path"], scope["method"], headers.get(b"content-type", b"").decode("latin-1"))
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit.bytes:
        await _answer(send, limit.http_status, limit.status, limit.message)  # as BodySizeLimitMiddleware
        return None
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit.bytes:
            await _answer(send, limit.http_status, limit.status, limit.message)  # as BodySizeLimitMiddleware
            return None
        if not message.get("more_body", False):
            break

    async def replay():
        return messages.pop(0) if messages else await receive()

    return replay


class Application:
    def __init__(self):
        self.stream = StreamHandler()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan is off; a WebSocket is refused
            if scope["type"] == "websocket":
                await send({"type": "websocket.close"})
            return
        if scope["path"] != STREAM_PATH:
            await _answer(send, 404, 4004, "Not found (this server serves only GET /v1/app/stream)")
            return
        receive = await _capped_receive(scope, receive, send)
        if receive is None:
            return
        await self.stream.handle(scope, receive, send)  # ASGIHandler.__call__ minus ThreadSensitiveContext


django.setup(set_prefix=False)
from kilopush.checks import run_at_startup  # noqa: E402 (needs the settings)
from kilopush.middleware import body_limit  # noqa: E402 (needs the settings)

run_at_startup("stream")  # configuration errors stop the stream process before it serves

application = Application()
