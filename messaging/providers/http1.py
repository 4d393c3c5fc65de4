"""A small HTTP/1.1 client for one origin on an asyncio loop: kept-alive connections, one request at a time each.

FCM's send is one POST of a JSON body per push, so a worker's CPU per push is mostly its HTTP client's.
aiohttp's request machinery (sessions, cookie jars, timers rescheduled per read, multidicts) cost most
of a push (docs/benchmarks.md); this does only what the send needs: write the request and hand the
answer's bytes to llhttp (httptools, the parser of uvicorn and of Node.js), which frames it (Content-Length,
chunked, the connection's end) and refuses what is not HTTP/1.x.

- `Pool(url, limit=, connect_timeout=, max_body=, idle_timeout=)`: at most `limit` connections, reused
  most recently used first; a connection the server closed while idle is dropped when it is next taken,
  and one left idle for `idle_timeout` seconds (15) is closed, before a server's own idle timeout can
  race a request written to it;
- `await pool.request("POST", path, body, headers, timeout=)`: (status, body bytes, Headers); raises
  asyncio.TimeoutError, OSError (ConnectionError when the server closed the connection first) or
  ProtocolError, also for a head over 64 KB or a body over `max_body` (1 MB; FCM answers in a few
  hundred bytes). A failed or timed-out request's connection is closed, never reused;
- a response with `Connection: close` (or HTTP/1.0) closes its connection after it.
"""

import asyncio
import ssl
from urllib.parse import urlsplit

import httptools


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 this client understands, or is over a limit."""


class Headers(dict):
    """Response headers by lower-case name; get() takes any case."""

    def get(self, name, default=None):
        return super().get(name.lower(), default)


MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
IDLE_TIMEOUT = 15.0


class _Connection(asyncio.Protocol):
    def __init__(self, max_body):
        self.max_body = max_body
        self.transport = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter = None
        self._fields = []
        self._head_size = 0
        self._head = None  # (status, headers) once a final (not 1xx) head is in
        self._framed = False  # by Content-Length or chunked; otherwise by the connection's end
        self._body = bytearray()
        self._done = False

    # asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for (or for a request given up): the connection is out of step
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__  # what the callback raised
            self._fail(cause if isinstance(cause, ProtocolError) else ProtocolError(f"{exc}: {cause!r}"))
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(ProtocolError(f"not an HTTP/1.x answer: {exc}"))

    def eof_received(self):
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc):
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._head is not None and not self._framed:
                self._finish(keep_alive=False)  # a body framed by the connection's end
            else:
                self._waiter.set_exception(exc or ConnectionResetError("the server closed the connection"))

    # llhttp's callbacks (an exception raised here comes back from feed_data as HttpParserCallbackError)

    def on_message_begin(self):
        if self._done:
            raise ProtocolError("an answer nobody asked for")
        self._fields, self._head_size = [], 0

    def on_header(self, name, value):
        self._head_size += len(name) + len(value)
        if self._head_size > MAX_HEAD:
            raise ProtocolError("response head too long")
        self._fields.append((name, value))  # a long name or value may come in pieces: an empty name continues it

    def on_headers_complete(self):
        status = self._parser.get_status_code()
        if status < 200:
            return  # an interim answer (100 Continue): the real one follows
        headers = Headers()
        for name, value in self._fields:
            value = value.decode("latin-1")
            if not name:
                headers[last] += value
                continue
            last = name.decode("latin-1").lower()
            headers[last] = f"{headers[last]}, {value}" if last in headers else value
        self._head = (status, headers)
        self._framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "")

    def on_body(self, body):
        if len(self._body) + len(body) > self.max_body:
            raise ProtocolError(f"response body over {self.max_body} bytes")
        self._body += body

    def on_message_complete(self):
        if self._head is not None:
            self._done = True
            self._finish(keep_alive=self._parser.should_keep_alive())

    # one exchange

    def send(self, request):
        self._waiter = asyncio.get_running_loop().create_future()
        self._head, self._framed, self._done = None, False, False
        self._body = bytearray()
        self.transport.write(request)
        return self._waiter

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc):
        self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def _finish(self, keep_alive):
        status, headers = self._head
        self._waiter.set_result((status, bytes(self._body), headers))
        if not keep_alive:
            self.close()


class Pool:
    def __init__(self, url, *, limit, connect_timeout, max_body=MAX_BODY, idle_timeout=IDLE_TIMEOUT):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = {"http": 80, "https": 443}[parts.scheme]
        self.host_header = parts.netloc.rpartition("@")[2] if self.port != default_port else self.host
        self.connect_timeout = connect_timeout
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self._idle = []  # least recently used first
        self._slots = asyncio.Semaphore(limit)
        self._sweep = None  # one timer per pool, not one per request

    async def _connection(self):
        loop = asyncio.get_running_loop()
        self._close_idle(loop.time())
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        _, connection = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self.max_body), self.host, self.port, ssl=self.ssl,
                                   server_hostname=self.host if self.ssl else None),
            self.connect_timeout)
        return connection

    def _close_idle(self, now):
        stale = 0
        while stale < len(self._idle) and now - self._idle[stale].idle_since >= self.idle_timeout:
            self._idle[stale].close()
            stale += 1
        del self._idle[:stale]

    def _swept(self):
        loop = asyncio.get_running_loop()
        self._close_idle(loop.time())
        self._sweep = None
        if self._idle:
            self._sweep = loop.call_at(self._idle[0].idle_since + self.idle_timeout, self._swept)

    async def request(self, method, path, body, headers, *, timeout):
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with self._slots:
            connection = await self._connection()
            try:
                status, answer, answer_headers = await asyncio.wait_for(connection.send(request), timeout)
            except BaseException:
                connection.close()
                raise
            if not connection.closed:
                loop = asyncio.get_running_loop()
                connection.idle_since = loop.time()
                self._idle.append(connection)
                if self._sweep is None:
                    self._sweep = loop.call_at(connection.idle_since + self.idle_timeout, self._swept)
            return status, answer, answer_headers

    def close(self):
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for connection in self._idle:
            connection.close()
        self._idle.clear()
