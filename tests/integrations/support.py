"""The three compatibility paths behind one small interface, so every rule is tested on each of them."""

import json
from dataclasses import dataclass
from pathlib import Path

from django.test import Client

from channels_app.services import send_key_create
from tests.app_api import call

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name):
    return (PAYLOADS / name).read_text()


def new_key(channel, recipient):
    return send_key_create(channel=channel, recipient=recipient.user)[1]


def inbox(person):
    return call(Client(), "GET", "/v1/app/messages", person).json()["messages"]


@dataclass(frozen=True)
class Protocol:
    """One compatibility path: how it sends a message with a title, and how its answers carry our codes."""

    name: str

    def send(self, client, key, message="Backup done", title="Nightly", **extra):
        if self.name == "hook":
            body = {"message": message, **({"title": title} if title is not None else {})}
            return client.post(f"/v1/hooks/{key}", json.dumps(body), content_type="application/json", **extra)
        if self.name == "gotify":
            body = {"message": message, **({"title": title} if title is not None else {})}
            return client.post(f"/message?token={key}", json.dumps(body), content_type="application/json", **extra)
        if self.name == "ntfy":
            headers = {"HTTP_X_TITLE": title} if title is not None else {}
            return client.post(f"/{key}", message.encode(), content_type="text/plain", **headers, **extra)
        body = {"topic": key, "message": message, **({"title": title} if title is not None else {})}
        return client.post("/", json.dumps(body), content_type="application/json", **extra)  # ntfy JSON

    def send_raw(self, client, key, body, content_type):
        """A malformed body on this path."""
        if self.name == "hook":
            return client.generic("POST", f"/v1/hooks/{key}", body, content_type=content_type)
        if self.name == "gotify":
            return client.generic("POST", f"/message?token={key}", body, content_type=content_type)
        if self.name == "ntfy":
            return client.generic("POST", f"/{key}", body, content_type=content_type)
        return client.generic("POST", "/", body, content_type=content_type)

    def message_id(self, response):
        assert response.status_code == 200, response.content
        body = response.json()
        if self.name == "hook":
            return int(body["response"]["id"])
        return int(body["id"])

    # (HTTP status, the protocol's own code) for each of our codes.
    EXPECTED = {
        "hook": {code: (400, code) for code in (4000, 4003, 4005, 4023, 4024, 4029)},
        "gotify": {4000: (400, 400), 4003: (401, 401), 4005: (400, 400), 4023: (403, 403), 4024: (403, 403),
                   4029: (429, 429)},
        "ntfy": {4000: (400, 40001), 4003: (401, 40101), 4005: (400, 40001), 4023: (403, 40301), 4024: (403, 40301),
                 4029: (429, 42901)},
    }

    def refused(self, response):
        """(HTTP status, the protocol's code) of an error answer, which must be JSON in the protocol's shape."""
        assert response["Content-Type"].startswith("application/json"), response.content[:200]
        body = response.json()
        if self.name == "hook":
            return response.status_code, body["response"]["status"]
        if self.name == "gotify":
            assert set(body) == {"error", "errorCode", "errorDescription"}, body
            assert body["errorCode"] == response.status_code
            return response.status_code, body["errorCode"]
        assert set(body) == {"code", "http", "error"}, body
        assert body["http"] == response.status_code
        return response.status_code, body["code"]

    def expected(self, code):
        return self.EXPECTED["ntfy" if self.name.startswith("ntfy") else self.name][code]


PROTOCOLS = [Protocol("hook"), Protocol("gotify"), Protocol("ntfy"), Protocol("ntfy-json")]
