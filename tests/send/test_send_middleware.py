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

from kilopush.wsgi import Application, application, send_middleware
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


def call(handler, method="POST", body=b"", content_type="application/json", **extra):
    environ = RequestFactory().generic(method, "/v1/messages/send", body, content_type=content_type,
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
