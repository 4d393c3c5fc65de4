"""uvicorn's HTTP protocol for the stream process, with the web's read timeout (uvicorn --http stream_app.server:...).

uvicorn times out only an idle connection between two requests: a connection that never
sends a byte, or stops halfway through its request head, stays open for ever (one file each).
Here a request head must arrive within WEB_READ_TIMEOUT of the connection, or of its first
byte on a kept-alive connection; otherwise the connection is closed without an answer, as the
web's worker does (kilopush/gunicorn_worker.py). The body's time is kept by kilopush/asgi.py.

It also tells the application when the client leaves (`scope["kilopush.closing"]`, a Closing), so that
an open stream needs no task of its own listening for the disconnect (kilopush/asgi.py), and it keeps
a mostly idle connection small (issue 27: 10,000 streams in one process): an asyncio.Event's waiters
are a list (an empty deque is 0.6 KB, and a connection has two events), and so is the pipeline of
requests waiting behind the current one.
"""

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CLOSING = "kilopush.closing"  # the scope's key, read by kilopush/asgi.py


class Closing:
    """The client left (the connection was lost): `closed`, and what to call then (`when_closed`)."""

    __slots__ = ("closed", "callbacks")

    def __init__(self):
        self.closed = False
        self.callbacks = None

    def when_closed(self, callback):
        """Calls `callback()` once the client leaves (at once if it has left)."""
        if self.closed:
            callback()
        else:
            self.callbacks = (self.callbacks or []) + [callback]

    def close(self):
        if not self.closed:
            self.closed = True
            callbacks, self.callbacks = self.callbacks or (), None
            for callback in callbacks:
                callback()


class _Pipeline(list):
    """uvicorn's pipeline (a deque: appendleft, pop) as a list: requests rarely wait behind a stream."""

    __slots__ = ()

    def appendleft(self, item):
        self.insert(0, item)


def _light(event):
    """The event with its waiters in a list (asyncio.Event only appends, removes and iterates them)."""
    if hasattr(event, "_waiters") and not event._waiters:
        event._waiters = []
    return event


class StreamHttpProtocol(HttpToolsProtocol):
    head_timer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipeline = _Pipeline()

    def connection_made(self, transport):
        super().connection_made(transport)
        _light(self.flow._is_writable_event)
        self._start_head_timer()

    def on_message_begin(self):
        super().on_message_begin()
        self.scope[CLOSING] = Closing()
        self._start_head_timer()

    def on_headers_complete(self):
        self._cancel_head_timer()
        super().on_headers_complete()
        _light(self.cycle.message_event)

    def connection_lost(self, exc):
        self._cancel_head_timer()
        super().connection_lost(exc)
        if self.cycle is not None:
            closing = self.cycle.scope.get(CLOSING)
            if closing is not None:
                closing.close()

    def _start_head_timer(self):
        if self.head_timer is None:
            from django.conf import settings  # configured by then: uvicorn loads the application first

            self.head_timer = self.loop.call_later(settings.WEB_READ_TIMEOUT, self._head_timed_out)

    def _cancel_head_timer(self):
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self):
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
