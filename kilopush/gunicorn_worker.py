"""A gunicorn gthread worker that reads each whole request before it takes a thread (docs/security.md, "Abuse and fuzzing").

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes
arrive; the thread then blocks while the client sends the rest. A client that trickles
its headers or body (slowloris, slow POST) holds a thread for as long as it likes, and a
few of them hold them all. This worker keeps a connection in its event loop, reading
without blocking, until the request head and its WHOLE body have arrived, and only then
gives it to a thread:

- the body's size is capped before it is read, per path (kilopush.middleware.body_limit):
  a request announcing or sending more is answered at once (4000 envelope on /v1/, 413
  elsewhere) and closed, never buffered;
- a chunked body (Transfer-Encoding: chunked) is de-chunked here, and the thread gets the
  request with a Content-Length instead: WSGI applications (Django) read nothing from a
  request without one;
- a request that has not fully arrived within WEB_READ_TIMEOUT seconds of its first byte
  is closed without ever taking a thread;
- the thread's parser reads only these bytes, never the socket: if it wanted more, the
  request would end there (NoMoreData) rather than block a thread on a client.

Slow clients then cost a socket and a buffer of at most their path's cap, not a thread;
open connections per worker are bounded by worker_connections. Why this and not granian or an
ASGI server, measured with `python -m bench.web_servers`: docs/operations.md, "Why these HTTP parsers".
"""

import errno
import os
import selectors
import socket
import time
from collections import deque
from urllib.parse import unquote, urlsplit

from gunicorn.http.unreader import Unreader
from gunicorn.workers.gthread import ThreadWorker, TConn

READ_TIMEOUT = float(os.getenv("WEB_READ_TIMEOUT", "15"))
# A request head (request line and headers) larger than this is given to gunicorn as it is,
# whose own limits (gunicorn_conf.py) refuse it.
HEAD_LIMIT = 64 * 1024
# A chunk-size line, or a trailer section, larger than this is refused.
CHUNK_LINE_LIMIT = 8190
TRAILER_LIMIT = 16 * 1024
# After a refusal the connection is drained this long (at most this much) before it is
# closed, so that the client reads the answer instead of a connection reset.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024
RECV_SIZE = 64 * 1024

NEED_MORE, COMPLETE, TOO_LARGE, INVALID, AS_IS = "need-more", "complete", "too-large", "invalid", "as-is"


def _default_limit(path, method, content_type):
    from kilopush.middleware import body_limit  # Django's settings are loaded by then

    return body_limit(path, method, content_type)


class RequestReader:
    """Reads one HTTP/1.x request from bytes fed to it, without a socket (so it is testable alone).

    feed() answers NEED_MORE until the request is whole; then `request` holds the bytes
    for gunicorn's parser (a chunked body de-chunked, with a Content-Length) and `rest`
    what the client sent after it (a pipelined request). TOO_LARGE: the body is over the
    path's cap (`limit`); INVALID: a malformed chunked body; AS_IS: a head this reader
    does not frame (gunicorn refuses it: malformed, conflicting lengths, HTTP/1.0 chunks),
    handed over as received.
    """

    def __init__(self, limit_for=_default_limit):
        self.limit_for = limit_for
        self.buffer = bytearray()
        self.state = NEED_MORE
        self.head = None
        self.path = ""
        self.method = ""
        self.origin = None
        self.limit = None
        self.send_continue = False  # the client waits for "100 Continue" before its body
        self.request = b""
        self.rest = b""
        self._head_lines = None
        self._length = None  # body length with Content-Length
        self._chunked = False
        self._chunks = []
        self._body_size = 0
        self._chunk_left = 0  # bytes still to come in the current chunk
        self._phase = "size"  # chunked: size, data, data-end, trailer
        self._raw_limit = 0

    def feed(self, data):
        if self.state != NEED_MORE:
            return self.state
        self.buffer += data
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > HEAD_LIMIT:
                    return self._as_is()
                return NEED_MORE
            self.head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            state = self._read_head()
            if state != NEED_MORE:
                return state
        if self._chunked:
            return self._read_chunks()
        if len(self.buffer) >= self._length:
            return self._complete(self.head, bytes(self.buffer[: self._length]), bytes(self.buffer[self._length:]))
        return NEED_MORE

    def _read_head(self):
        lines = self.head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            return self._as_is()
        method, target, version = parts
        self.method = method.decode("latin-1")
        try:
            raw_path = target if target.startswith(b"/") else urlsplit(target.decode("latin-1")).path.encode("latin-1")
            self.path = unquote(raw_path.split(b"?", 1)[0].decode("latin-1"))
        except ValueError:
            return self._as_is()
        lengths, encodings, content_type, expect = [], [], "", None
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                return self._as_is()
            name, value = name.lower(), value.strip(b" \t")
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                encodings += [v.strip().lower() for v in value.split(b",")]
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"expect":
                expect = value.lower()
            elif name == b"origin":
                self.origin = value.decode("latin-1")
        if encodings:
            if encodings != [b"chunked"] or lengths or version != b"HTTP/1.1":
                return self._as_is()
            self._chunked = True
        elif lengths:
            if len(set(lengths)) > 1 or not lengths[0].isdigit():
                return self._as_is()
            self._length = int(lengths[0])
        else:
            self._length = 0
        if expect is not None and expect != b"100-continue":
            return self._as_is()  # gunicorn answers 417
        self.limit = self.limit_for(self.path, self.method, content_type)
        if self._length is not None and self._length > self.limit.bytes:
            self.state = TOO_LARGE
            return self.state
        # Chunk framing costs bytes too; bound what a tiny-chunk body may make us buffer.
        self._raw_limit = 8 * self.limit.bytes + 64 * 1024
        has_body = self._chunked or self._length > 0
        if expect is not None:
            self.send_continue = has_body and version == b"HTTP/1.1"
            # Answered here; gunicorn must not answer it again after the body.
            lines = [line for line in lines if line.partition(b":")[0].lower() != b"expect"]
        self._head_lines = lines
        if expect is not None:
            self.head = b"\r\n".join(lines)
        return NEED_MORE

    def _read_chunks(self):
        buf = self.buffer
        pos = 0
        while True:
            if self._phase == "size":
                end = buf.find(b"\r\n", pos)
                if (end if end >= 0 else len(buf)) - pos > CHUNK_LINE_LIMIT:
                    return self._invalid()
                if end < 0:
                    break
                size = bytes(buf[pos:end]).split(b";", 1)[0].rstrip(b" \t")
                if not size or len(size) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size):
                    return self._invalid()
                pos = end + 2
                self._chunk_left = int(size, 16)
                if self._body_size + self._chunk_left > self.limit.bytes:
                    self.state = TOO_LARGE
                    return self.state
                self._phase = "data" if self._chunk_left else "trailer"
            elif self._phase == "data":
                take = min(self._chunk_left, len(buf) - pos)
                if take:
                    self._chunks.append(bytes(buf[pos:pos + take]))
                    self._body_size += take
                    self._chunk_left -= take
                    pos += take
                if self._chunk_left:
                    break
                self._phase = "data-end"
            elif self._phase == "data-end":
                if len(buf) - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    return self._invalid()
                pos += 2
                self._phase = "size"
            else:  # trailer: header lines up to an empty line, dropped
                if buf[pos:pos + 2] == b"\r\n":
                    pos += 2
                    body = b"".join(self._chunks)
                    head = b"\r\n".join(
                        [line for line in self._head_lines if line.partition(b":")[0].lower() != b"transfer-encoding"]
                        + [b"Content-Length: %d" % len(body)]
                    )
                    return self._complete(head, body, bytes(buf[pos:]))
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if len(buf) - pos > TRAILER_LIMIT:
                        return self._invalid()
                    break
                pos = end + 2  # leaves the final CRLF for the check above
        del buf[:pos]
        self._raw_limit -= pos
        if self._raw_limit < 0:
            self.state = TOO_LARGE
        return self.state

    def _complete(self, head, body, rest):
        self.request = head + b"\r\n\r\n" + body
        self.rest = rest
        self.state = COMPLETE
        return self.state

    def _as_is(self):
        self.request = (self.head + b"\r\n\r\n" if self.head is not None else b"") + bytes(self.buffer)
        self.state = AS_IS
        return self.state

    def _invalid(self):
        self.state = INVALID
        return self.state

    def refusal(self):
        """The bytes answering a TOO_LARGE or INVALID request (the connection closes after them)."""
        from kilopush.answers import json_bytes
        from kilopush.cors import cors_headers

        if self.state == TOO_LARGE:
            status, code, message = self.limit.http_status, self.limit.status, self.limit.message
        else:
            status, code, message = 400, 4000, "Invalid chunked body"
        api = self.path.startswith("/v1/")
        if api:
            body = json_bytes({"response": {"status": code, "message": message}})
            content_type = "application/json"
        else:
            status = 413 if self.state == TOO_LARGE else 400
            body = message.encode()
            content_type = "text/plain; charset=utf-8"
        reason = {400: "Bad Request", 413: "Content Too Large"}.get(status, "Error")
        headers = [
            f"HTTP/1.1 {status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        headers += [f"{name}: {value}" for name, value in cors_headers(self.path, self.origin).items()]
        return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


class BufferedUnreader(Unreader):
    """The parser's source once a request is buffered: it never reads the socket (end of data instead)."""

    def chunk(self, size_hint=None):
        return b""


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading_conns = deque()  # in order of their deadlines
        self.lingering_conns = deque()  # refused, drained briefly before closing; in order of deadlines

    def accept(self, listener):
        if self.cfg.is_ssl:  # TLS belongs to the proxy in front; keep gunicorn's own handling
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.start_reading(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        # A kept-alive connection's next request is buffered too.
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.start_reading(conn, readable=True)

    def start_reading(self, conn, received=b"", *, readable=False):
        """Reads the connection's next request in this loop: what already arrived (`received`, or what a
        `readable` socket holds, read at once); a request not yet whole waits in reading_conns, watched."""
        conn.sock.setblocking(False)
        conn.reader = RequestReader()
        conn.timeout = time.monotonic() + READ_TIMEOUT
        conn.watched = False
        if received:
            self.on_received(conn, received)
        elif readable:
            self.on_request_bytes(conn)  # a kept-alive request is usually whole: no wait for the next select
        else:
            self.watch(conn)

    def watch(self, conn):
        """The event loop reads the rest of the connection's request as it comes (or closes it at its deadline)."""
        if not conn.watched:
            conn.watched = True
            self.reading_conns.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, lambda sock: self.on_request_bytes(conn))

    def on_request_bytes(self, conn):
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            self.watch(conn)
            return
        except OSError:
            data = b""
        if not data:  # the client went away before sending a whole request
            self.stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        self.on_received(conn, data)

    def on_received(self, conn, data):
        reader = conn.reader
        state = reader.feed(data)
        if reader.send_continue and state == NEED_MORE:
            reader.send_continue = False
            try:
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                pass
        if state == NEED_MORE:
            self.watch(conn)
            return
        self.stop_reading(conn)
        if state in (TOO_LARGE, INVALID):
            self.refuse(conn, reader.refusal())
            return
        conn.init()
        if not isinstance(conn.parser.unreader, BufferedUnreader):
            conn.parser.unreader = BufferedUnreader()
        conn.parser.unreader.unread(reader.request)
        conn.leftover = reader.rest
        conn.reader = None
        conn.data_ready = True
        self.enqueue_req(conn)

    def finish_request(self, conn, fs):
        # A pipelined request already read from the socket no longer makes it readable.
        leftover = getattr(conn, "leftover", b"")
        conn.leftover = b""
        if leftover and not fs.cancelled() and fs.exception() is None and fs.result() is True:
            self.start_reading(conn, leftover)
            return
        super().finish_request(conn, fs)

    def stop_reading(self, conn):
        if conn.watched:
            conn.watched = False
            self.poller.unregister(conn.sock)
            self.reading_conns.remove(conn)

    def refuse(self, conn, answer):
        """Answers without a thread, then drains what the client still sends for a moment and closes."""
        try:
            conn.sock.send(answer)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        conn.timeout = time.monotonic() + min(LINGER_SECONDS, READ_TIMEOUT)
        conn.lingered = 0
        self.lingering_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, lambda sock: self.on_linger_bytes(conn))

    def on_linger_bytes(self, conn):
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.lingered += len(data)
        if not data or conn.lingered > LINGER_BYTES:
            self.end_lingering(conn)

    def end_lingering(self, conn):
        self.poller.unregister(conn.sock)
        self.lingering_conns.remove(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.lingering_conns and self.lingering_conns[0].timeout <= now:
            self.end_lingering(self.lingering_conns[0])
        while self.reading_conns and self.reading_conns[0].timeout <= now:
            conn = self.reading_conns[0]
            self.stop_reading(conn)
            self.nr_conns -= 1
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
