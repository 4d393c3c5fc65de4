"""uvicorn's HTTP protocol for the stream process, with the web's read timeout (uvicorn --http stream_app.server:...).

uvicorn times out only an idle connection between two requests: a connection that never
sends a byte, or stops halfway through its request head, stays open for ever (one file each).
Here a request head must arrive within WEB_READ_TIMEOUT of the connection, or of its first
byte on a kept-alive connection; otherwise the connection is closed without an answer, as the
web's worker does (kilopush/gunicorn_worker.py). The body's time is kept by kilopush/asgi.py.
"""

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class StreamHttpProtocol(HttpToolsProtocol):
    head_timer = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._start_head_timer()

    def on_message_begin(self):
        super().on_message_begin()
        self._start_head_timer()

    def on_headers_complete(self):
        self._cancel_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc):
        self._cancel_head_timer()
        super().connection_lost(exc)

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
