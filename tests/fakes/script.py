"""What a fake answers: a queue of outcomes per device token, a default, a latency; and what it received.

Outcomes: ok, unregistered, bad_token, sender_id_mismatch (FCM), token_not_for_topic (APNs),
invalid_argument (not about the token), provider_token
(APNs 403 InvalidProviderToken), unavailable (503), internal (500 with a body),
internal_empty (500 without a body), rate_limited[:seconds] (429 with Retry-After), drop (close
the connection without answering), hang (never answer), delay:seconds (answer ok after a pause),
redirect (Web Push: 307 to the fake's redirect_location).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUTCOMES = {
    "ok", "unregistered", "bad_token", "sender_id_mismatch", "token_not_for_topic", "invalid_argument",
    "unavailable", "internal", "internal_empty", "rate_limited", "drop", "hang", "delay", "provider_token",
    "redirect",
}


def parse_outcome(spec):
    """'rate_limited:5' -> ('rate_limited', 5.0); 'ok' -> ('ok', None)."""
    name, _, arg = str(spec).partition(":")
    if name not in OUTCOMES:
        raise ValueError(f"unknown outcome {spec!r}; known: {', '.join(sorted(OUTCOMES))}")
    return name, float(arg) if arg else None


class Script:
    def __init__(self):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.released = threading.Event()  # set to let hanging answers go
        self.reset()

    def reset(self):
        with self.lock:
            self.queues = {}
            self.default = ("ok", None)
            self.latency = 0.0
            self.pushes = []
            self.in_flight = 0
            self.max_in_flight = 0
            self.connections = 0
            self.changed.notify_all()
        self.released.set()
        self.released = threading.Event()

    def set_outcomes(self, token, outcomes):
        parsed = [parse_outcome(o) for o in outcomes]
        with self.lock:
            self.queues[token] = parsed

    def set_default(self, outcome="ok", latency=None):
        parsed = parse_outcome(outcome)
        with self.lock:
            self.default = parsed
            if latency is not None:
                self.latency = float(latency)

    def next_outcome(self, token):
        with self.lock:
            queue = self.queues.get(token)
            return queue.pop(0) if queue else self.default

    def begin(self):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self):
        with self.lock:
            self.in_flight -= 1

    def connected(self):
        with self.lock:
            self.connections += 1

    def received(self, push):
        with self.lock:
            self.pushes.append(push)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate(pushes) is true; returns the pushes (raises TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.pushes):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake never saw the expected pushes; it has {self.pushes!r}")
                self.changed.wait(left)
            return list(self.pushes)

    def accepted(self, token=None):
        with self.lock:
            return [p for p in self.pushes if p["answer"] == "ok" and (token is None or p["token"] == token)]

    def snapshot(self):
        with self.lock:
            return {
                "pushes": list(self.pushes),
                "max_in_flight": self.max_in_flight,
                "connections": self.connections,
                "default": ":".join(str(x) for x in self.default if x is not None),
                "latency": self.latency,
            }

    def control(self, method, path, body):
        """The control API shared by both fakes: returns (status, JSON-able answer) or None if not ours."""
        if method == "GET" and path == "/_fake/pushes":
            return 200, self.snapshot()
        if method == "POST" and path == "/_fake/reset":
            self.reset()
            return 200, {"ok": True}
        if method == "POST" and path == "/_fake/outcomes":
            try:
                self.set_outcomes(body["token"], body["outcomes"])
            except (KeyError, TypeError, ValueError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"ok": True}
        if method == "POST" and path == "/_fake/default":
            try:
                self.set_default(body.get("outcome", "ok"), body.get("latency"))
            except (TypeError, ValueError, AttributeError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"ok": True}
        return None


class ControlHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 control API (the APNs fake serves it on its own port; the FCM fake on its main one)."""

    protocol_version = "HTTP/1.1"
    script = None  # set by the server

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def send_json(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def handle_control(self, method):
        answer = self.server.script.control(method, self.path, self._body() if method == "POST" else {})
        if answer is None:
            self.send_json(404, {"error": "not found"})
        else:
            self.send_json(*answer)

    def do_GET(self):
        self.handle_control("GET")

    def do_POST(self):
        self.handle_control("POST")


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a client opening dozens of connections at
    # once (FCM_CONCURRENCY) would see SYNs dropped and a one-second retransmission stall.
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # clients that hang up (drop, timeouts) are part of the game
