"""The send API's own middleware chain (kilopush/wsgi.py) answers exactly as the full stack would.

Both chains are called in-process through the WSGI application gunicorn serves, with the
same request; status, body and headers must match, for answers the view makes and for
answers the middleware makes (body too large, an unexpected error).
"""

import json

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from channels_app.services import send_key_create
from django.urls import URLResolver, get_resolver, get_urlconf

from kilopush import wsgi
from kilopush.wsgi import Application, application, send_middleware, takes_send_chain
from messaging.models import Message

VOLATILE = {"date", "server"}


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    # Like Django's test client: a request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(handler, method="POST", body=b"", content_type="application/json", path="/v1/messages/send", **extra):
    environ = RequestFactory().generic(method, path, body, content_type=content_type,
                                       REMOTE_ADDR="127.0.0.1", **extra).environ
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers if name.lower() not in VOLATILE}

    chunks = handler(environ, start_response)
    try:
        answer["body"] = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer


def both(method="POST", body=b"", **extra):
    return call(application.full, method, body, **extra), call(application.send_api, method, body, **extra)


def test_the_application_routes_the_send_path_to_its_own_chain():
    assert isinstance(application, Application)
    chain = send_middleware()
    assert chain == [name for name in settings.MIDDLEWARE if name in chain]  # same order
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in chain
    assert "kilopush.errors.ApiErrorMiddleware" in chain
    assert "kilopush.cors.CorsMiddleware" in chain
    assert "kilopush.middleware.BodySizeLimitMiddleware" in chain
    assert "django.middleware.security.SecurityMiddleware" in chain


def test_an_accepted_send_has_the_full_stacks_headers(valid_fields):
    full, slim = both(body=json.dumps(valid_fields).encode())
    assert full["status"] == slim["status"] == 200
    # Two sends: the channel's remaining quota differs by one, everything else is the same.
    assert int(full["headers"].pop("x-ratelimit-remaining")) == int(slim["headers"].pop("x-ratelimit-remaining")) + 1
    assert full["headers"] == slim["headers"]
    assert full["headers"]["x-frame-options"] == "DENY"
    assert full["headers"]["x-content-type-options"] == "nosniff"
    ids = {json.loads(answer["body"])["response"]["id"] for answer in (full, slim)}
    assert Message.objects.filter(pk__in=ids).count() == 2


@pytest.mark.parametrize(
    "fields, status",
    [
        ({"secret": "0" * 64}, 4003),
        ({"message": ""}, 4005),
        ({"to": "u_nobody"}, 4005),
    ],
)
def test_a_refused_send_has_the_same_envelope_and_headers(valid_fields, fields, status):
    full, slim = both(body=json.dumps({**valid_fields, **fields}).encode())
    assert json.loads(full["body"])["response"]["status"] == status
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


def test_a_get_is_refused_alike(db):
    full, slim = both("GET")
    assert full["status"] == 405
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


def test_a_body_too_large_is_refused_by_the_middleware_alike(db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    full, slim = both(body=b"{" + b" " * 200 + b"}")
    assert json.loads(slim["body"])["response"]["status"] == 4000
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


def test_an_unexpected_error_is_the_envelope_alike(valid_fields, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("messaging.send.views.message_send", broken)
    full, slim = both(body=json.dumps(valid_fields).encode())
    assert full["status"] == 500
    assert json.loads(slim["body"]) == {"response": {"status": 500, "message": "Internal server error"}}
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


def test_cors_answers_alike_from_a_page(valid_fields):
    full, slim = both(body=json.dumps({**valid_fields, "secret": "0" * 64}).encode(), HTTP_ORIGIN="https://example.org")
    assert slim["headers"]["access-control-allow-origin"] == "https://example.org"
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


def test_a_cors_preflight_is_answered_alike(db):
    full, slim = both("OPTIONS", HTTP_ORIGIN="https://example.org", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "POST" in slim["headers"]["access-control-allow-methods"]
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


# --- the sends through a key take the same chain (issue 27) ---


@pytest.fixture
def key(bob, channel):
    return send_key_create(channel=channel, recipient=bob.user)[1]


def key_paths(key):
    return {"hook": (f"/v1/hooks/{key}", b'{"message": "Door bell"}', "application/json", ""),
            "gotify": ("/message", b'{"message": "Door bell"}', "application/json", f"token={key}"),
            "ntfy": (f"/{key}", b"Door bell", "text/plain", "")}


def test_the_application_routes_the_sends_through_a_key_to_the_send_chain():
    key = "k_" + "0" * 40
    assert all(takes_send_chain(path) for path in ("/v1/messages/send", f"/v1/hooks/{key}", "/message", f"/{key}"))
    assert not any(takes_send_chain(path) for path in ("/", "/v1/messages/status", "/v1/app/messages", "/admin/",
                                                       "/messages", f"/{key}/json", "/k_123", "/v1/hooks/"))


@pytest.mark.parametrize("name", ["hook", "gotify", "ntfy"])
def test_a_send_through_a_key_has_the_full_stacks_answer(key, name):
    path, body, content_type, query = key_paths(key)[name]
    full, slim = (call(handler, body=body, content_type=content_type, path=path, QUERY_STRING=query)
                  for handler in (application.full, application.send_api))
    assert full["status"] == slim["status"] == 200
    for answer in (full, slim):
        answer["headers"].pop("x-ratelimit-remaining", None)
    assert full["headers"] == slim["headers"]
    full_body, slim_body = json.loads(full["body"]), json.loads(slim["body"])
    for answer in (full_body, slim_body, full_body.get("response", {}), slim_body.get("response", {})):
        for volatile in ("id", "date", "time"):  # two messages, sent a moment apart
            answer.pop(volatile, None)
    assert full_body == slim_body and full_body


@pytest.mark.parametrize("name", ["hook", "gotify", "ntfy"])
def test_a_refused_send_through_a_key_is_answered_alike(db, name):
    path, body, content_type, query = key_paths("k_" + "0" * 40)[name]
    full, slim = (call(handler, body=body, content_type=content_type, path=path, QUERY_STRING=query)
                  for handler in (application.full, application.send_api))
    assert full["status"] in (400, 401)
    assert (full["status"], full["body"], full["headers"]) == (slim["status"], slim["body"], slim["headers"])


def root_resolves(monkeypatch):
    """The paths the root URLconf is asked to resolve from now on."""
    resolved, original, root = [], URLResolver.resolve, get_resolver(get_urlconf())
    monkeypatch.setattr(URLResolver, "resolve",
                        lambda self, path: (self is root and resolved.append(path)) or original(self, path))
    return resolved


def test_the_send_api_resolves_its_url_once(valid_fields, monkeypatch):
    application.send_api._matches.clear()
    first = call(application.send_api, body=json.dumps(valid_fields).encode())
    resolved = root_resolves(monkeypatch)
    again = call(application.send_api, body=json.dumps(valid_fields).encode())
    assert first["status"] == again["status"] == 200
    assert resolved == []  # the second send took the first one's match
    assert [match.url_name for match in application.send_api._matches.values()] == ["send-message"]


@pytest.mark.parametrize("name", ["hook", "ntfy"])
def test_a_keys_path_is_resolved_once_and_a_new_key_again(db, name, monkeypatch):
    application.send_api._matches.clear()
    resolved = root_resolves(monkeypatch)
    for key in ("k_" + "1" * 40, "k_" + "1" * 40, "k_" + "2" * 40):
        path, body, content_type, query = key_paths(key)[name]
        call(application.send_api, body=body, content_type=content_type, path=path, QUERY_STRING=query)
    assert [path.rsplit("/", 1)[-1] for path in resolved] == ["k_" + "1" * 40, "k_" + "2" * 40]
    matches = list(application.send_api._matches.values())
    assert [match.kwargs["key"] for match in matches] == ["k_" + "1" * 40, "k_" + "2" * 40]
    assert len({match.func for match in matches}) == 1


def test_the_kept_matches_are_bounded(db, monkeypatch):
    monkeypatch.setattr(wsgi, "MATCHES_KEPT", 3)
    application.send_api._matches.clear()
    for n in range(7):
        path, body, content_type, query = key_paths("k_" + f"{n:040x}")["hook"]
        call(application.send_api, body=body, content_type=content_type, path=path, QUERY_STRING=query)
        assert len(application.send_api._matches) <= 3
