"""Chunked request bodies (Transfer-Encoding: chunked), as Node's https.request, curl and Go send them (issue 10).

Raw sockets against gunicorn as the Procfile runs it: the worker de-chunks the body before
a thread takes the request, under the same caps as a body with a Content-Length.
"""

import io
import json
import time
from urllib.parse import urlencode

import pytest
from django.conf import settings

from tests.app_api import image_bytes
from tests.rawhttp import (
    chunked,
    closed_by_server,
    connect,
    envelope_status,
    exchange,
    gunicorn,
    head,
    healthz_answers,
    read_response,
    web,  # noqa: F401 (fixture)
)

BOUNDARY = "kilopushchunks"


def encode(fields, kind):
    if kind == "json":
        return "application/json", json.dumps(fields).encode()
    if kind == "form":
        return "application/x-www-form-urlencoded", urlencode(fields).encode()
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    return f"multipart/form-data; boundary={BOUNDARY}", body + f"--{BOUNDARY}--\r\n".encode()


def chunked_send(fields, kind, **headers):
    content_type, body = encode(fields, kind)
    request_head = head(
        "POST", "/v1/messages/send", {"Content-Type": content_type, "Transfer-Encoding": "chunked", **headers}
    )
    return request_head, chunked(body)


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_a_chunked_send_is_accepted(web, transactional_db, valid_fields, kind):
    status, _, body = exchange(web, b"".join(chunked_send(valid_fields, kind)))
    assert (status, envelope_status(body)) == (200, 200)


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_a_chunked_send_with_a_wrong_secret_answers_4003(web, transactional_db, valid_fields, kind):
    status, _, body = exchange(web, b"".join(chunked_send({**valid_fields, "secret": "wrong"}, kind)))
    assert (status, envelope_status(body)) == (400, 4003)


def test_the_node_example_body_is_accepted(web, transactional_db, valid_fields):
    # What Node's https.request writes: the whole JSON as one chunk.
    body = json.dumps({**valid_fields, "url": "https://example.com/"}).encode()
    request = head("POST", "/v1/messages/send", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    status, _, answer = exchange(web, request + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert (status, envelope_status(answer)) == (200, 200)


def test_a_chunked_send_that_waits_for_100_continue_is_accepted(web, transactional_db, valid_fields):
    # curl -H 'Transfer-Encoding: chunked' sends "Expect: 100-continue" and waits for it before the body.
    request_head, body = chunked_send(valid_fields, "json", Expect="100-continue")
    with connect(web) as sock:
        sock.sendall(request_head)
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        status, _, answer = read_response(sock)
    assert (status, envelope_status(answer)) == (200, 200)


def test_a_chunked_send_trickled_byte_by_byte_is_accepted(web, transactional_db, valid_fields):
    request_head, body = chunked_send(valid_fields, "json")
    with connect(web) as sock:
        sock.sendall(request_head)
        for index in range(len(body)):
            sock.sendall(body[index:index + 1])
        status, _, answer = read_response(sock)
    assert (status, envelope_status(answer)) == (200, 200)


def test_two_pipelined_chunked_sends_on_one_connection_are_both_answered(web, transactional_db, valid_fields):
    one = b"".join(chunked_send(valid_fields, "json"))
    two = b"".join(chunked_send({**valid_fields, "secret": "wrong"}, "form"))
    with connect(web) as sock:
        sock.sendall(one + two)
        first = read_response(sock)
        second = read_response(sock)
    assert (first[0], envelope_status(first[2])) == (200, 200)
    assert (second[0], envelope_status(second[2])) == (400, 4003)


@pytest.mark.parametrize("kind", ["json", "form"])
def test_a_chunked_send_over_the_limit_answers_4000_and_closes(web, transactional_db, valid_fields, kind):
    fields = {**valid_fields, "message": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    content_type, body = encode(fields, kind)
    request_head = head("POST", "/v1/messages/send", {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
    with connect(web) as sock:
        sock.sendall(request_head + chunked(body, size=4096))
        status, headers, answer = read_response(sock)
        assert (status, envelope_status(answer), headers["connection"]) == (400, 4000, "close")
        assert closed_by_server(sock)


def test_a_chunked_multipart_send_over_the_attachment_cap_answers_4005_and_closes(web, transactional_db, valid_fields):
    # A multipart send may carry an image (issue 25): its cap is ATTACHMENT_MAX_BYTES more, refused unread past it.
    fields = {**valid_fields, "message": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + settings.ATTACHMENT_MAX_BYTES + 1)}
    content_type, body = encode(fields, "multipart")
    request_head = head("POST", "/v1/messages/send", {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
    with connect(web) as sock:
        sock.sendall(request_head + chunked(body, size=65536))
        status, headers, answer = read_response(sock)
        assert (status, envelope_status(answer), headers["connection"]) == (400, 4005, "close")
        assert closed_by_server(sock)


def test_a_chunked_multipart_send_over_the_limit_without_a_file_answers_4000(web, transactional_db, valid_fields):
    fields = {**valid_fields, "message": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    content_type, body = encode(fields, "multipart")
    request_head = head("POST", "/v1/messages/send", {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
    status, _, answer = exchange(web, request_head + chunked(body, size=4096))
    assert (status, envelope_status(answer)) == (400, 4000)


def test_an_endless_chunked_body_is_refused_without_being_buffered(web, transactional_db):
    request_head = head("POST", "/v1/messages/send", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with connect(web) as sock:
        sock.sendall(request_head)
        sent = 0
        try:
            while sent < 50 * 1024 * 1024:  # never gets that far: the server answers and closes past 64 KB
                sock.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
                sent += 4096
                sock.setblocking(False)
                try:
                    if sock.recv(1, 2):  # MSG_PEEK: the answer has arrived
                        break
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 50 * 1024 * 1024
        status, _, answer = read_response(sock)
    assert (status, envelope_status(answer)) == (400, 4000)


def test_a_content_length_over_the_limit_answers_4000_before_the_body(web, transactional_db):
    request_head = head(
        "POST", "/v1/messages/send", {"Content-Type": "application/json", "Content-Length": str(10 * 1024 * 1024)}
    )
    status, _, answer = exchange(web, request_head)  # no body sent at all
    assert (status, envelope_status(answer)) == (400, 4000)


def test_a_malformed_chunk_size_answers_4000(web, transactional_db):
    request_head = head("POST", "/v1/messages/send", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    status, _, answer = exchange(web, request_head + b"zz\r\n{}\r\n0\r\n\r\n")
    assert (status, envelope_status(answer)) == (400, 4000)


def test_a_chunked_body_with_a_content_length_too_is_refused(web, transactional_db, valid_fields):
    # Request smuggling: both framings at once is a 400 (RFC 9112 6.3), never either of them.
    body = json.dumps(valid_fields).encode()
    request_head = head(
        "POST",
        "/v1/messages/send",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked", "Content-Length": str(len(body))},
    )
    status, _, _ = exchange(web, request_head + chunked(body))
    assert status == 400


def test_a_chunked_rename_of_a_channel_on_the_app_api_is_applied(web, transactional_db, alice, channel):
    body = json.dumps({"name": "Renamed in chunks"}).encode()
    request_head = head(
        "PATCH",
        f"/v1/app/channels/{channel.token}",
        {"Authorization": f"Bearer {alice.access_token}", "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    status, _, answer = exchange(web, request_head + chunked(body))
    assert (status, json.loads(answer)["name"]) == (200, "Renamed in chunks")


def test_a_chunked_logo_upload_on_the_app_api_is_applied(web, transactional_db, alice):
    logo = image_bytes("PNG", size=(300, 200))
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nCam\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="logo"; filename="l.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + logo + f"\r\n--{BOUNDARY}--\r\n".encode()
    request_head = head(
        "POST",
        "/v1/app/channels",
        {
            "Authorization": f"Bearer {alice.access_token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Transfer-Encoding": "chunked",
        },
    )
    status, _, answer = exchange(web, request_head + chunked(body, size=1000))
    assert status == 201, answer
    assert json.loads(answer)["logo_url"]


def test_a_client_that_stalls_mid_chunk_is_closed_without_taking_a_thread(tmp_path, transactional_db, valid_fields):
    server = gunicorn(tmp_path, WEB_READ_TIMEOUT=3, WEB_CONCURRENCY=1, WEB_THREADS=2)
    socks = []
    try:
        body = json.dumps(valid_fields).encode()
        request_head = head(
            "POST", "/v1/messages/send", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        )
        for _ in range(10):  # more than the threads
            sock = connect(server, timeout=15)
            sock.sendall(request_head + b"%x\r\n%s" % (len(body), body[:10]))  # then nothing more
            socks.append(sock)
        started = time.monotonic()
        assert healthz_answers(server)[0] == 200  # a thread is free: none of them took one
        for sock in socks:
            assert closed_by_server(sock)  # not by the 15 s client timeout: no answer either
        assert time.monotonic() - started < 14
    finally:
        for sock in socks:
            sock.close()
        server.kill()


def test_the_middleware_reads_a_chunked_body_a_server_left_without_length(client, valid_fields):
    # gunicorn's own workers and ASGI servers de-chunk the body but set no CONTENT_LENGTH.
    body = json.dumps({**valid_fields, "secret": "wrong"}).encode()
    response = client.generic(
        "POST",
        "/v1/messages/send",
        body,
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert envelope_status(response.content) == 4003


def test_the_middleware_refuses_a_chunked_body_over_the_limit(client):
    body = b"{" + b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b"}"
    response = client.generic(
        "POST",
        "/v1/messages/send",
        body,
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert (response.status_code, envelope_status(response.content)) == (400, 4000)


@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
def test_a_multipart_send_with_a_2_mb_image_is_accepted_by_gunicorn(web, transactional_db, valid_fields, transfer):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import BOUNDARY as MULTIPART_BOUNDARY, MULTIPART_CONTENT, encode_multipart

    from messaging.models import Message
    from tests.send import images

    picture = images.noise_png(2 * 1024 * 1024)  # over the 64 KB cap of a send without a file
    body = encode_multipart(MULTIPART_BOUNDARY, {**valid_fields, "attachment": SimpleUploadedFile("n.png", picture)})
    if transfer == "chunked":
        request = head("POST", "/v1/messages/send", {"Content-Type": MULTIPART_CONTENT, "Transfer-Encoding": "chunked"})
        request += chunked(body, size=65536)
    else:
        request = head("POST", "/v1/messages/send", {"Content-Type": MULTIPART_CONTENT,
                                                     "Content-Length": str(len(body))}) + body
    status, _, answer = exchange(web, request, timeout=60)
    assert (status, envelope_status(answer)) == (200, 200), answer
    assert Message.objects.get().attachment_type == "image/png"
