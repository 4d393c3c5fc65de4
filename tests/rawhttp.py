"""Raw HTTP/1.1 over a socket, for what urllib cannot send: chunked bodies, stalls, trickles, pipelining."""

import json
import socket
import threading
import time

import pytest

from tests.procs import database_url_for, start_gunicorn


def port_of(server):
    return int(server.url.rsplit(":", 1)[1])


def connect(server, timeout=15):
    return socket.create_connection(("127.0.0.1", port_of(server)), timeout=timeout)


def chunked(body, size=7):
    """`body` in chunks of `size` bytes, with a chunk extension on the first one, as Transfer-Encoding: chunked."""
    out = b""
    for index, start in enumerate(range(0, len(body), size)):
        piece = body[start:start + size]
        out += b"%x%s\r\n%s\r\n" % (len(piece), b";ext=1" if index == 0 else b"", piece)
    return out + b"0\r\n\r\n"


def head(method, path, headers):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock):
    """(status, headers dict with lower-case names, body bytes) of one response; reads to the body's end."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed before a whole response head: {data!r}")
        data += piece
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 100:
        return read_response_after(sock, rest)
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        rest += piece
    return status, headers, rest[:length]


def read_response_after(sock, already):
    class Prefixed:
        def __init__(self):
            self.buffer = already

        def recv(self, size):
            if self.buffer:
                data, self.buffer = self.buffer, b""
                return data
            return sock.recv(size)

    return read_response(Prefixed())


def exchange(server, request, timeout=15):
    with connect(server, timeout) as sock:
        sock.sendall(request)
        return read_response(sock)


def envelope_status(body):
    return json.loads(body)["response"]["status"]


def closed_by_server(sock):
    """Whether the server closed (or reset) the connection without answering anything more."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def gunicorn(tmp_path, **env):
    from django.conf import settings

    env.setdefault("WEB_READ_TIMEOUT", 20)
    server = start_gunicorn(
        tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL, MEDIA_ROOT=tmp_path / "media", **env
    )
    warm_up(server, int(env.get("WEB_CONCURRENCY", 2)))
    return server


def warm_up(server, workers):
    """Waits until the worker processes have answered (a first request loads the URLs, connects to the database)."""
    for _ in range(4 * workers):
        exchange(server, head("GET", "/healthz", {"Connection": "close"}), timeout=60)


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker, tmp_path_factory):
    """One gunicorn as the Procfile runs it, for a module's tests (each has its own data: transactional_db)."""
    server = gunicorn(tmp_path_factory.mktemp("web"))
    yield server
    server.kill()


class Trickler:
    """Keeps sending one byte every `interval` seconds on each socket, in a thread, until stopped."""

    def __init__(self, socks, byte=b"a", interval=0.5):
        self.socks, self.byte, self.interval = socks, byte, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            for sock in self.socks:
                try:
                    sock.send(self.byte)
                except OSError:
                    pass

    def stop(self):
        self._stop.set()
        self._thread.join()


def healthz_answers(server, timeout=3.0):
    """GET /healthz on a fresh connection: (status, seconds taken); the timeout only bounds a wait."""
    started = time.monotonic()
    status, _, body = exchange(server, head("GET", "/healthz", {"Connection": "close"}), timeout=timeout)
    return status, time.monotonic() - started
