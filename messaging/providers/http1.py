"""A small HTTP/1.1 client for one origin on an asyncio loop: kept-alive connections, one request at a time each.

FCM's send is one POST of a JSON body per push, so a worker's CPU per push is mostly its HTTP client's.
aiohttp's request machinery (sessions, cookie jars, timers rescheduled per read, multidicts) cost most
of a push (docs/benchmarks.md); this does only what the send needs: write the request, read the
status, the headers and a body framed by Content-Length, chunked encoding or the connection's end.

- `Pool(url, limit=, connect_timeout=)`: at most `limit` connections, reused most recently used first;
  a connection the server closed while idle is dropped when it is next taken;
- `await pool.request("POST", path, body, headers, timeout=)`: (status, body bytes, Headers); raises
  asyncio.TimeoutError, OSError (ConnectionError when the server closed the connection first) or
  ProtocolError. A failed or timed-out request's connection is closed, never reused;
- a response with `Connection: close` (or HTTP/1.0) closes its connection after it.
"""

import asyncio
import ssl
from urllib.parse import urlsplit


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 this client understands."""


class Headers(dict):
    """Response headers by lower-case name; get() takes any case."""

    def get(self, name, default=None):
        return super().get(name.lower(), default)


_MAX_HEAD = 64 * 1024


class _Connection(asyncio.Protocol):
    def __init__(self):
        self.transport = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter = None
        self._head = None  # (status, headers, keep_alive) once the head is in
        self._chunked = False
        self._length = None
        self._chunks = bytearray()

    # asyncio.Protocol

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self._buffer += data
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for (or for a request given up): the connection is out of step
            return
        try:
            self._parse()
        except ProtocolError as exc:
            self._fail(exc)

    def eof_received(self):
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc):
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._head is not None and not self._chunked and self._length is None:
                self._finish(bytes(self._buffer), keep_alive=False)  # a body framed by the connection's end
            else:
                self._waiter.set_exception(exc or ConnectionResetError("the server closed the connection"))

    # one exchange

    def send(self, request):
        self._waiter = asyncio.get_running_loop().create_future()
        self._head, self._chunked, self._length = None, False, None
        self._chunks = bytearray()
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

    def _finish(self, body, keep_alive):
        status, headers, head_keep_alive = self._head
        self._waiter.set_result((status, body, headers))
        if not (keep_alive and head_keep_alive):
            self.close()

    def _parse(self):
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    raise ProtocolError("response head too long")
                return
            head = bytes(buffer[:end]).decode("latin-1")
            del buffer[:end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
            status = int(parts[1])
            headers = Headers()
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise ProtocolError("malformed header line")
                name = name.strip().lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if 100 <= status < 200:
                continue  # an interim answer (100 Continue): the real one follows
            connection = headers.get("connection", "").lower()
            keep_alive = "close" not in connection and (parts[0] != "HTTP/1.0" or "keep-alive" in connection)
            self._head = (status, headers, keep_alive)
            if status in (204, 304):
                self._length = 0
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                self._chunked = True
            elif "content-length" in headers:
                try:
                    self._length = int(headers["content-length"])
                except ValueError:
                    raise ProtocolError("bad Content-Length") from None
        if self._chunked:
            self._parse_chunks()
        elif self._length is not None and len(buffer) >= self._length:
            body = bytes(buffer[:self._length])
            del buffer[:self._length]
            self._finish(body, keep_alive=not buffer)

    def _parse_chunks(self):
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                return
            size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError("bad chunk size") from None
            if size == 0:  # the last chunk, then trailer fields (ignored) up to an empty line
                if buffer[end + 2:end + 4] == b"\r\n":
                    done = end + 4
                else:
                    blank = buffer.find(b"\r\n\r\n", end + 2)
                    if blank < 0:
                        return
                    done = blank + 4
                del buffer[:done]
                self._finish(bytes(self._chunks), keep_alive=not buffer)
                return
            if len(buffer) < end + 2 + size + 2:
                return
            self._chunks += buffer[end + 2:end + 2 + size]
            del buffer[:end + 2 + size + 2]


class Pool:
    def __init__(self, url, *, limit, connect_timeout):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = {"http": 80, "https": 443}[parts.scheme]
        self.host_header = parts.netloc.rpartition("@")[2] if self.port != default_port else self.host
        self.connect_timeout = connect_timeout
        self._idle = []
        self._slots = asyncio.Semaphore(limit)

    async def _connection(self):
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(
            loop.create_connection(_Connection, self.host, self.port, ssl=self.ssl,
                                   server_hostname=self.host if self.ssl else None),
            self.connect_timeout)
        return connection

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
                self._idle.append(connection)
            return status, answer, answer_headers

    def close(self):
        for connection in self._idle:
            connection.close()
        self._idle.clear()
