"""Slow clients (slowloris) cannot tie up the web workers: gunicorn as the Procfile runs it."""

import http.client as http_client
import io
import json
import random
import socket
import time

import pytest
from PIL import Image

from kilopush import gunicorn_conf
from tests.procs import database_url_for, http, start_gunicorn
from tests.rawhttp import warm_up

# The Procfile's defaults for this machine (WEB_CONCURRENCY and WEB_THREADS unset).
WORKERS, THREADS = gunicorn_conf.workers, gunicorn_conf.threads
# More than a sync worker per connection, or gthread's thread per connection, could ever serve.
SLOW_CLIENTS = 4 * WORKERS * THREADS + 10  # enough to fill every process, however unevenly they accept


@pytest.fixture
def web(transactional_db, tmp_path):
    from django.conf import settings

    server = start_gunicorn(
        tmp_path,
        DATABASE_URL=database_url_for(),
        REDIS_URL=settings.REDIS_URL,
        WEB_CONCURRENCY=WORKERS,
        WEB_READ_TIMEOUT=20,
        MEDIA_ROOT=tmp_path / "media",
    )
    warm_up(server, WORKERS)
    yield server
    server.kill()


def connect(web):
    sock = socket.create_connection(("127.0.0.1", int(web.url.rsplit(":", 1)[1])), timeout=10)
    return sock


@pytest.fixture
def slow_clients(web):
    """Connections that started a request and stall: half in the headers, half in a declared body."""
    socks = []
    try:
        for number in range(SLOW_CLIENTS):
            sock = connect(web)
            if number % 2:
                sock.sendall(b"POST /v1/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            else:
                sock.sendall(
                    b"POST /v1/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"to\": "
                )
            socks.append(sock)
        time.sleep(0.5)  # let every worker see its share of them (not an assertion)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def test_healthz_is_answered_while_slow_clients_hold_connections(web, slow_clients):
    for _ in range(5):
        status, _, body = http("GET", web.url + "/healthz", timeout=5)
        assert (status, json.loads(body)["database"]) == (200, "ok")


def test_a_send_is_answered_while_slow_clients_hold_connections(web, slow_clients, valid_fields):
    for _ in range(5):
        status, _, body = http("POST", web.url + "/v1/messages/send", json.dumps(valid_fields), timeout=5)
        assert (status, json.loads(body)["response"]["status"]) == (200, 200)


def test_the_slow_clients_are_still_waiting_not_refused(web, slow_clients):
    http("GET", web.url + "/healthz", timeout=5)
    slow_clients[0].setblocking(False)
    with pytest.raises(BlockingIOError):
        slow_clients[0].recv(1)  # no answer and no close yet: their requests are simply incomplete


@pytest.mark.parametrize("kept_alive", [False, True], ids=["new connection", "kept-alive connection"])
def test_a_client_that_never_finishes_its_request_is_disconnected(tmp_path, transactional_db, kept_alive):
    from django.conf import settings

    server = start_gunicorn(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL, WEB_READ_TIMEOUT=1)
    try:
        sock = connect(server)
        if kept_alive:  # its next request is read at once when the socket turns readable, then watched
            assert answer_on(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, not by the 10 s client timeout
        assert time.monotonic() - started < 9
        sock.close()
    finally:
        server.kill()


def answer_on(sock, *pieces):
    """Sends a request in `pieces` (50 ms apart) on a kept-alive connection; its answer's status."""
    for piece in pieces:
        sock.sendall(piece)
        time.sleep(0.05)
    response = http_client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response.status


def test_a_request_sent_in_pieces_is_answered(web):
    sock = connect(web)
    for piece in (b"GET /hea", b"lthz HTTP/1.1\r\nHo", b"st: 127.0.0.1\r\nConnection: close\r\n", b"\r\n"):
        sock.sendall(piece)
        time.sleep(0.05)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200")


def test_the_next_request_on_a_kept_alive_connection_may_come_in_pieces(web):
    sock = connect(web)
    assert answer_on(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 200
    assert answer_on(sock, b"GET /hea", b"lthz HTTP/1.1\r\nHo", b"st: 127.0.0.1\r\n", b"\r\n") == 200
    body = json.dumps({"to": "u_nobody"}).encode()
    head = b"POST /v1/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    assert answer_on(sock, head + b"Content-Length: %d\r\n\r\n" % len(body), body[:5], body[5:]) == 400
    sock.close()


def test_two_requests_on_one_kept_alive_connection_are_answered(web):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", int(web.url.rsplit(":", 1)[1]), timeout=5)
    for _ in range(2):
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    connection.close()


def test_a_logo_upload_larger_than_the_api_body_cap_is_accepted(web, alice):
    from django.conf import settings

    noise = Image.frombytes("RGB", (200, 200), random.Random(7).randbytes(200 * 200 * 3))  # incompressible
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert len(out.getvalue()) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    boundary = "kilopushboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nCam\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="logo"; filename="l.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + out.getvalue() + f"\r\n--{boundary}--\r\n".encode()
    request = (
        f"POST /v1/app/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {alice.access_token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    sock = connect(web)
    sock.sendall(request)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
