"""Slow request bodies cannot tie up the web threads (issue 16, High 1), gunicorn as the Procfile runs it.

The attack: many connections each send a request head and part of a large body, then
trickle a byte now and then. Every request's whole body must arrive within
WEB_READ_TIMEOUT, in the worker's event loop, before it takes a thread; every path has a
body cap, decided before reading. Meanwhile /healthz (which needs a free thread) answers.
"""

import json
import threading
import time

import pytest
from django.conf import settings

from tests.rawhttp import (
    Trickler,
    closed_by_server,
    connect,
    envelope_status,
    exchange,
    gunicorn,
    head,
    healthz_answers,
    read_response,
)

BOUNDARY = "kilopushslow"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
FORM = "application/x-www-form-urlencoded"
PREFIX = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="logo"; filename="l.png"\r\nContent-Type: image/png\r\n\r\n'


@pytest.fixture(scope="module")
def slow_web(django_db_setup, django_db_blocker, tmp_path_factory):
    # One process of 4 threads: a few slow connections would be enough to take them all.
    server = gunicorn(tmp_path_factory.mktemp("slow"), WEB_CONCURRENCY=1, WEB_THREADS=4, WEB_READ_TIMEOUT=30)
    yield server
    server.kill()


def admin_login(_):
    # Under the admin's cap (64 KB): the server waits for the rest, in its event loop.
    return head("POST", "/admin/login/", {"Content-Type": MULTIPART, "Content-Length": "60000"}), 40_000


def channel_logo(alice_and_channel):
    alice, channel = alice_and_channel
    headers = {"Authorization": f"Bearer {alice.access_token}", "Content-Type": MULTIPART, "Content-Length": "2000000"}
    return head("PATCH", f"/v1/app/channels/{channel.token}", headers), 90_000  # under the logo cap


def app_register(_):
    # No credential needed: anyone can start one.
    return head("POST", "/v1/app/register", {"Content-Type": "application/json", "Content-Length": "60000"}), 40_000


def send_api(_):
    return head("POST", "/v1/messages/send", {"Content-Type": MULTIPART, "Content-Length": "60000"}), 40_000


def send_api_chunked(_):
    return head("POST", "/v1/messages/send", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}), 0


@pytest.fixture
def alice_and_channel(transactional_db, alice, channel):
    return alice, channel


@pytest.mark.parametrize("connections", [8, 100])
@pytest.mark.parametrize("target", [admin_login, channel_logo, app_register, send_api, send_api_chunked])
def test_healthz_answers_while_slow_bodies_trickle(slow_web, alice_and_channel, target, connections):
    request_head, sent_body = target(alice_and_channel)
    socks = []
    try:
        for _ in range(connections):
            sock = connect(slow_web, timeout=30)
            if sent_body:
                sock.sendall(request_head + (PREFIX.encode() + b"x" * sent_body)[:sent_body])
            else:
                sock.sendall(request_head + b"ffff\r\n" + b"x" * 20_000)  # a 64 KB chunk, a third of it sent
            socks.append(sock)
        trickler = Trickler(socks, interval=0.3)
        try:
            for _ in range(4):
                status, seconds = healthz_answers(slow_web, timeout=10)
                assert status == 200
                assert seconds < 1.0, f"/healthz took {seconds:.2f} s behind {connections} slow bodies"
                time.sleep(0.3)
        finally:
            trickler.stop()
        for sock in socks[:3]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)  # still waiting, neither answered nor closed
    finally:
        for sock in socks:
            sock.close()


def test_a_slow_body_is_closed_after_the_read_timeout_without_an_answer(tmp_path, transactional_db):
    server = gunicorn(tmp_path, WEB_CONCURRENCY=1, WEB_THREADS=2, WEB_READ_TIMEOUT=2)
    try:
        with connect(server, timeout=15) as sock:
            request_head, sent_body = admin_login(None)
            sock.sendall(request_head + b"x" * sent_body)
            trickler = Trickler([sock], interval=0.2)  # it keeps sending: the deadline is for the whole request
            started = time.monotonic()
            try:
                assert closed_by_server(sock)
            finally:
                trickler.stop()
            assert time.monotonic() - started < 10
    finally:
        server.kill()


def test_admin_login_with_a_body_over_its_cap_is_refused_before_it_is_read(slow_web, transactional_db):
    request_head = head("POST", "/admin/login/", {"Content-Type": MULTIPART, "Content-Length": "2000000"})
    with connect(slow_web) as sock:
        sock.sendall(request_head + b"x" * 90_000)
        status, headers, _ = read_response(sock)
        assert (status, headers["connection"]) == (413, "close")


def test_a_50_mb_multipart_body_to_admin_login_is_refused_without_being_read_in_full(slow_web, transactional_db):
    size = 50 * 1024 * 1024
    request_head = head("POST", "/admin/login/", {"Content-Type": MULTIPART, "Content-Length": str(size)})
    answer = []
    with connect(slow_web, timeout=15) as sock:

        def read():
            try:
                answer.append(read_response(sock))
            except OSError as exc:
                answer.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sock.sendall(request_head)
        sent, piece = 0, b"x" * 65536
        try:
            while sent < size:
                sent += sock.send(piece)
        except OSError:  # reset or timed out: the server stopped reading
            pass
        reader.join(15)
    assert sent < size / 2
    assert answer and not isinstance(answer[0], Exception), answer
    assert answer[0][0] == 413


def test_the_send_api_refuses_a_body_over_its_cap_before_reading_it(slow_web, transactional_db):
    request_head = head("POST", "/v1/messages/send", {"Content-Type": FORM, "Content-Length": "2000000"})
    status, headers, body = exchange(slow_web, request_head)
    assert (status, envelope_status(body), headers["connection"]) == (400, 4000, "close")


def test_a_multipart_send_over_the_attachment_cap_is_refused_before_it_is_read(slow_web, transactional_db):
    # A multipart send may carry an image (ATTACHMENT_MAX_BYTES, 5 MB): its cap is that plus the form's.
    over = settings.ATTACHMENT_MAX_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    request_head = head("POST", "/v1/messages/send", {"Content-Type": MULTIPART, "Content-Length": str(over)})
    status, headers, body = exchange(slow_web, request_head)
    assert (status, envelope_status(body), headers["connection"]) == (400, 4005, "close")


def test_a_logo_upload_over_its_cap_is_refused_before_it_is_read(slow_web, alice_and_channel):
    alice, channel = alice_and_channel
    headers = {"Authorization": f"Bearer {alice.access_token}", "Content-Type": MULTIPART, "Content-Length": "50000000"}
    status, _, body = exchange(slow_web, head("PATCH", f"/v1/app/channels/{channel.token}", headers))
    assert (status, json.loads(body)["response"]["status"]) == (400, 4005)
