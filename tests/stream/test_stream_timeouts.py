"""The stream process's read timeout (issue 23): a request head, and its body, must arrive within WEB_READ_TIMEOUT;
a connection that sends nothing is closed. An open stream, whose client rightly sends nothing, stays open."""

import socket
import time

import pytest
from django.conf import settings

from tests.procs import database_url_for, start_stream
from tests.stream_support import SseClient

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 2  # WEB_READ_TIMEOUT of these tests' process (15 by default)


@pytest.fixture(scope="module")
def stream(tmp_path_factory, django_db_setup):
    proc = start_stream(tmp_path_factory.mktemp("timeouts"), DATABASE_URL=database_url_for(),
                        REDIS_URL=settings.REDIS_URL, WEB_READ_TIMEOUT=TIMEOUT, STREAM_KEEPALIVE=1)
    yield proc
    proc.kill()


def closed_after(sock, limit=TIMEOUT + 8):
    """Seconds until the server closes the socket (reading what it sends meanwhile); fails past `limit`."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    try:
        while data := sock.recv(65536):
            received += data
    except TimeoutError:
        raise AssertionError(f"still open after {limit} s; received {received!r}") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - started, received


def test_a_connection_that_sends_nothing_is_closed(stream):
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        waited, received = closed_after(sock)
    assert waited >= TIMEOUT - 0.5 and received == b""


def test_a_half_sent_head_is_closed_without_an_answer(stream):
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        sock.sendall(b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bea")
        waited, received = closed_after(sock)
    assert waited >= TIMEOUT - 0.5 and received == b""


def test_a_trickled_head_is_closed_at_the_timeout_however_steady(stream):
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        started = time.monotonic()
        try:
            for byte in b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed_after(sock)
    assert time.monotonic() - started < TIMEOUT + 8


def test_a_half_sent_second_head_on_a_kept_alive_connection_is_closed(stream):
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        sock.sendall(b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # no token: 401, kept alive
        sock.settimeout(10)
        first = sock.recv(65536)
        while not first.endswith(b"\r\n0\r\n\r\n"):  # the whole (chunked) answer, before the next request
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 401"), first
        sock.sendall(b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0")
        waited, received = closed_after(sock)
    assert received == b""


def test_a_body_that_does_not_arrive_in_time_is_answered_408_and_closed(stream):
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        sock.sendall(b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{")
        waited, received = closed_after(sock)
    assert received.startswith(b"HTTP/1.1 408") and b'"status": 4000' in received, received


def test_an_open_stream_outlives_the_read_timeout(stream, bob):
    sse = SseClient(stream.url + "/v1/app/stream", bob.access_token)
    try:
        assert sse.status == 200
        time.sleep(TIMEOUT * 2)
        count = len(sse.comments)
        sse.wait_for(lambda c: len(c.comments) > count, timeout=5, what="a keepalive after the read timeout")
        assert sse.ended is None
    finally:
        sse.close()


def test_many_silent_sockets_are_all_closed_and_a_stream_still_opens_meanwhile(stream, bob):
    silent = [socket.create_connection(("127.0.0.1", stream.port)) for _ in range(500)]
    try:
        sse = SseClient(stream.url + "/v1/app/stream", bob.access_token)
        assert sse.status == 200
        sse.close()
        for sock in silent:
            closed_after(sock)  # each within TIMEOUT (+ 8 s of slack) of the last check
    finally:
        for sock in silent:
            sock.close()


def test_pipelined_requests_are_answered_in_order(stream):
    """The stream server keeps its pipeline of waiting requests in a list (stream_app/server.py): still in order."""
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        head = b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n"
        sock.sendall(head % b"first" + head % b"second")  # both unknown tokens: two 401 envelopes
        sock.settimeout(10)
        received = b""
        while received.count(b"\r\n0\r\n\r\n") < 2:
            data = sock.recv(65536)
            assert data, received
            received += data
    assert received.count(b"HTTP/1.1 401") == 2, received


def test_an_open_stream_is_sent_by_the_stream_handler_with_djangos_headers(stream, bob):
    """kilopush/asgi.py sends a stream's body itself, without Django's request: the answer is the view's, with
    the security middleware's headers, and the first frame comes at once."""
    with socket.create_connection(("127.0.0.1", stream.port)) as sock:
        sock.sendall(b"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n"
                     % bob.access_token.encode())
        sock.settimeout(10)
        received = b""
        while b": connected\n\n" not in received:
            data = sock.recv(65536)
            assert data, received
            received += data
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower().split("\r\n")
    assert head[0] == "http/1.1 200 ok"
    for header in ("content-type: text/event-stream; charset=utf-8", "cache-control: no-cache, no-store",
                   "x-accel-buffering: no", "x-content-type-options: nosniff", "transfer-encoding: chunked"):
        assert header in head, (header, head)
