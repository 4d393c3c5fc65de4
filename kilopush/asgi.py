"""The ASGI application of the `stream` process (uvicorn): the live stream, and nothing else.

Every other path is the web's (gunicorn): here it is a 404 envelope, so that nothing behind the web's
protections (its slow-client reader, its throttles' address rule) can be reached around them.
"""

import asyncio
import os

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")

STREAM_PATH = "/v1/app/stream"
# A stream needs no session, user, messages or CSRF: only the security headers (the view renders its own errors).
STREAM_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]
CLOSING = "kilopush.closing"  # the scope's Closing (stream_app/server.py): the client left


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

    async def handle(self, scope, receive, send):
        """Django's handle(), but an event stream's body is sent from here, without the request.

        Django keeps, for the life of a response, the request (its META, headers and body file), the
        response with its headers encoded twice, and a second task listening for the client to leave:
        about 8 KB per stream, for hours (issue 27: 10,000 idle streams in one process). A response
        with `event_stream` (frames, close) is sent here instead: its headers, then the request and the
        response are let go (request_finished is sent then), and the frames are sent as they come; when
        the client leaves, the server's Closing calls `close` and the frames end. Any other response is
        Django's, as is everything under a server without a Closing in the scope.
        """
        closing = scope.get(CLOSING)
        if closing is None:
            return await super().handle(scope, receive, send)
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        del receive
        set_script_prefix(get_script_prefix(scope))
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return
        try:
            response = await self.run_get_response(request)
        finally:
            body_file.close()
        event_stream = getattr(response, "event_stream", None)
        if event_stream is None:
            try:
                await self.send_response(response, send)
            finally:
                await sync_to_async(response.close)()
            return
        frames, close = event_stream
        start = {"type": "http.response.start", "status": response.status_code, "headers": _headers(response)}
        del request, response, event_stream, body_file
        try:
            await send(start)
            del start
            closing.when_closed(close)
            async for chunk in frames:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await frames.aclose()
            await signals.request_finished.asend(sender=self.__class__)


def _headers(response):
    """The response's headers as ASGI wants them (as ASGIHandler.send_response makes them)."""
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    headers += [(b"Set-Cookie", c.OutputString().encode("ascii").strip()) for c in response.cookies.values()]
    return headers


async def _answer(send, http_status, status, message):
    """An envelope, sent without Django; the connection closes after it."""
    body = json_bytes({"response": {"status": status, "message": message}})
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
from kilopush.answers import json_bytes  # noqa: E402 (needs the settings)
from kilopush.checks import run_at_startup  # noqa: E402 (needs the settings)
from kilopush.middleware import body_limit  # noqa: E402 (needs the settings)

run_at_startup("stream")  # configuration errors stop the stream process before it serves

application = Application()
