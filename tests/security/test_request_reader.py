"""The web worker's request reader alone (kilopush/gunicorn_worker.py): framing, de-chunking, caps."""

import pytest

from kilopush.gunicorn_worker import AS_IS, COMPLETE, INVALID, NEED_MORE, TOO_LARGE, RequestReader
from kilopush.middleware import BodyLimit, body_limit


def reader(cap=100):
    return RequestReader(lambda path, method, content_type: BodyLimit(cap, 4000, "too large"))


def feed_bytewise(r, data):
    for index in range(len(data)):
        state = r.feed(data[index:index + 1])
        if state != NEED_MORE:
            return state
    return NEED_MORE


CHUNKED_HEAD = b"POST /v1/messages/send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_head_without_body_is_complete():
    r = reader()
    assert r.feed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == COMPLETE
    assert r.request == b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_partial_head_needs_more():
    assert reader().feed(b"GET /healthz HTTP/1.1\r\nHost: x\r\n") == NEED_MORE


def test_a_content_length_body_is_complete_only_when_whole():
    r = reader()
    assert r.feed(b"POST / HTTP/1.1\r\ncontent-length:5\r\n\r\nabc") == NEED_MORE
    assert r.feed(b"deNEXT") == COMPLETE
    assert (r.request, r.rest) == (b"POST / HTTP/1.1\r\ncontent-length:5\r\n\r\nabcde", b"NEXT")


def test_a_chunked_body_is_dechunked_with_a_content_length():
    r = reader()
    state = feed_bytewise(r, CHUNKED_HEAD + b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert state == COMPLETE
    assert r.request == b"POST /v1/messages/send HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"


def test_what_follows_a_chunked_body_is_kept_for_the_next_request():
    r = reader()
    assert r.feed(CHUNKED_HEAD + b"2\r\n{}\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n") == COMPLETE
    assert r.rest == b"GET / HTTP/1.1\r\n\r\n"


def test_an_expect_100_continue_is_answered_by_the_reader_and_removed():
    r = reader()
    assert r.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n") == NEED_MORE
    assert r.send_continue
    assert r.feed(b"{}") == COMPLETE
    assert r.request == b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"


def test_a_content_length_over_the_cap_is_refused_before_the_body():
    assert reader(100).feed(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n") == TOO_LARGE


def test_a_chunk_announcing_more_than_the_cap_is_refused_before_its_data():
    assert reader(100).feed(CHUNKED_HEAD + b"65\r\n") == TOO_LARGE


def test_chunks_adding_up_past_the_cap_are_refused():
    assert reader(100).feed(CHUNKED_HEAD + b"32\r\n" + b"x" * 50 + b"\r\n33\r\n") == TOO_LARGE


def test_tiny_chunks_cannot_make_it_buffer_much_more_than_the_cap():
    r = reader(100)
    assert r.feed(CHUNKED_HEAD + b"1;" + b"e" * 9000 + b"\r\n") == INVALID  # a chunk-size line that long
    r = reader(100)
    r.feed(CHUNKED_HEAD)
    for count in range(1, 100):  # chunks of one byte under long (allowed) extensions
        state = r.feed(b"1;" + b"e" * 8000 + b"\r\nx\r\n")
        if state != NEED_MORE:
            break
    assert (state, count) == (TOO_LARGE, 9)


@pytest.mark.parametrize("bad", [b"zz\r\n", b"\r\n", b"2\r\nabXY", b"12345678901234567\r\n"])
def test_a_malformed_chunked_body_is_invalid(bad):
    assert reader().feed(CHUNKED_HEAD + bad) == INVALID


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",  # smuggling
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -2\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 2\r\n\r\n",
        b"NONSENSE\r\n\r\n",
    ],
)
def test_a_head_it_cannot_frame_goes_to_gunicorn_as_received(request_head):
    # gunicorn refuses these itself; its parser never reads the socket, so nothing can block a thread.
    r = reader()
    assert r.feed(request_head + b"ab") == AS_IS
    assert r.request == request_head + b"ab"


def test_a_head_too_large_goes_to_gunicorn_to_be_refused():
    assert reader().feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000) == AS_IS


@pytest.mark.parametrize(
    "path, method, content_type, cap",
    [
        ("/v1/messages/send", "POST", "application/json", 65536),
        # A multipart send may carry an image (issue 25): ATTACHMENT_MAX_BYTES more; a body without one is 4000 once read.
        ("/v1/messages/send", "POST", "multipart/form-data; boundary=x", 5 * 1024 * 1024 + 65536),
        ("/v1/app/channels", "POST", "multipart/form-data; boundary=x", 2 * 1024 * 1024 + 65536),
        ("/v1/app/channels/c_abc", "PATCH", "multipart/form-data; boundary=x", 2 * 1024 * 1024 + 65536),
        ("/v1/app/channels/c_abc", "PATCH", "application/json", 65536),
        ("/v1/app/channels/c_abc/rotate-secret", "POST", "multipart/form-data; boundary=x", 65536),
        ("/v1/app/register", "POST", "multipart/form-data; boundary=x", 65536),
        ("/admin/login/", "POST", "multipart/form-data; boundary=x", 65536),
        ("/anything", "POST", "", 65536),
    ],
)
def test_every_path_has_a_body_cap(settings, path, method, content_type, cap):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.LOGO_MAX_BYTES = 65536, 2 * 1024 * 1024
    assert body_limit(path, method, content_type).bytes == cap
