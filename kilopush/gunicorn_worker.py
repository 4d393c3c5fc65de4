"""A gunicorn gthread worker that reads each request before it takes a thread (README: "Abuse and fuzzing").

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes
arrive; the thread then blocks while the client sends the rest. A client that trickles
its headers or body (slowloris) holds a thread for as long as it likes, and a few dozen
of them hold them all. This worker keeps a connection in its event loop, reading
without blocking, until the request head and a body of up to BUFFER_LIMIT bytes have
arrived, and only then gives it to a thread, with those bytes already in the parser.
A connection that has not sent that much within WEB_READ_TIMEOUT seconds is closed.
Slow clients then cost a socket and a small buffer, not a thread; the number of open
connections per worker is bounded by worker_connections.
"""

import errno
import os
import re
import selectors
import socket
import time
from collections import deque

from gunicorn.workers.gthread import ThreadWorker, TConn

# What is buffered before a thread is taken: the head (at most gunicorn's limits allow)
# plus this much body. Larger bodies (logo uploads) are read by the thread after it.
BUFFER_LIMIT = 64 * 1024 + 16 * 1024
READ_TIMEOUT = float(os.getenv("WEB_READ_TIMEOUT", "15"))
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


def request_is_buffered(data):
    """Whether `data` holds a whole request head and its body (or BUFFER_LIMIT bytes of it)."""
    if len(data) >= BUFFER_LIMIT:
        return True
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    match = _CONTENT_LENGTH.search(data, 0, end + 2)
    body_length = int(match.group(1)) if match else 0
    return len(data) - (end + 4) >= min(body_length, BUFFER_LIMIT)


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading_conns = deque()  # in order of their deadlines

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
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.start_reading(conn)

    def start_reading(self, conn):
        conn.sock.setblocking(False)
        conn.received = bytearray()
        conn.timeout = time.monotonic() + READ_TIMEOUT
        self.reading_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, lambda sock: self.on_request_bytes(conn))

    def on_request_bytes(self, conn):
        try:
            data = conn.sock.recv(BUFFER_LIMIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before sending a request
            self.stop_reading(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.received += data
        if request_is_buffered(conn.received):
            self.stop_reading(conn)
            if conn.parser is None:
                conn.init()
            conn.parser.unreader.unread(bytes(conn.received))
            conn.received = None
            conn.data_ready = True
            self.enqueue_req(conn)

    def stop_reading(self, conn):
        self.poller.unregister(conn.sock)
        self.reading_conns.remove(conn)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.reading_conns and self.reading_conns[0].timeout <= now:
            conn = self.reading_conns[0]
            self.stop_reading(conn)
            self.nr_conns -= 1
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
