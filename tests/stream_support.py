"""A Server-Sent Events client for tests: reads a stream in a thread and keeps every event."""

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Event:
    event: str = "message"
    id: str | None = None
    data: str = ""
    comments: list = field(default_factory=list)

    def json(self):
        return json.loads(self.data)


class SseClient:
    def __init__(self, url, access_token=None, headers=None, timeout=60):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        all_headers = dict(headers or {})
        if access_token:
            all_headers["Authorization"] = f"Bearer {access_token}"
        self.conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=all_headers)
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers
        self.events, self.comments = [], []
        self.ended = None  # time.monotonic() when the server closed the stream
        self._cond = threading.Condition()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.response.read()

    def _read(self):
        current = Event()
        data = []
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if data or current.id is not None or current.event != "message":
                        current.data = "\n".join(data)
                        with self._cond:
                            self.events.append(current)
                            self._cond.notify_all()
                    current, data = Event(), []
                elif line.startswith(":"):
                    with self._cond:
                        self.comments.append((time.monotonic(), line[1:].strip()))
                        self._cond.notify_all()
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data.append(value)
                    elif name == "id":
                        current.id = value
                    elif name == "event":
                        current.event = value
        except (OSError, ValueError, AttributeError, http.client.HTTPException):  # AttributeError: closed meanwhile
            pass
        with self._cond:
            self.ended = time.monotonic()
            self._cond.notify_all()

    def wait_for(self, predicate, timeout=10, what="events"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {self.events!r} {self.comments!r}")
                self._cond.wait(remaining)
        return self.events

    def messages(self):
        return [e for e in self.events if e.event == "message"]

    def message_ids(self):
        return [int(e.id) for e in self.messages()]

    def wait_for_messages(self, count, timeout=10):
        self.wait_for(lambda c: len(c.messages()) >= count, timeout, f"{count} messages")
        return self.messages()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
