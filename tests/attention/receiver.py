"""A local webhook receiver: records each POST (headers, body) and answers from a script (status, delay, redirect)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self, keep_alive=False, idle_timeout=None):
        """keep_alive: answer HTTP/1.1 and keep the connection (else HTTP/1.0, one connection per request);
        idle_timeout: seconds after which a kept connection with no new request is closed."""
        self.requests = []
        self.answers = []  # (status, delay seconds, extra headers); empty: 204
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
            timeout = idle_timeout

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body,
                                              "time": time.time(), "client": self.client_address})
                    status, delay, headers, payload = receiver.answers.pop(0) if receiver.answers else (204, 0, {}, b"")
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def answer(self, status, delay=0.0, headers=None, body=b""):
        self.answers.append((status, delay, headers or {}, body))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_HOSTS = ("127.0.0.1",)
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def keep_alive_receiver(settings):
    """A receiver that keeps connections open (HTTP/1.1), closing one after 0.3 s without a request."""
    settings.WEBHOOK_ALLOW_HOSTS = ("127.0.0.1",)
    receiver = Receiver(keep_alive=True, idle_timeout=0.3)
    yield receiver
    receiver.close()


@pytest.fixture
def lasting_receiver(settings):
    """A receiver that keeps connections open for 30 s without a request: a pause of the client (a loaded
    machine between two claims) does not end its connection, so a test may count the connections it used."""
    settings.WEBHOOK_ALLOW_HOSTS = ("127.0.0.1",)
    receiver = Receiver(keep_alive=True, idle_timeout=30)
    yield receiver
    receiver.close()
