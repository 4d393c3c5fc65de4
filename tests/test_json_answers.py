"""Every JSON answer ends with a newline (kilopush/answers.py), so `curl` output does not run into the prompt."""

import json

import pytest
from django.test import Client

from kilopush.answers import json_bytes
from tests.app_api import call
from tests.integrations.support import PROTOCOLS, new_key


def ends_with_one_newline(response):
    assert response.content.endswith(b"}\n"), response.content
    json.loads(response.content)  # still one JSON document
    return True


def test_the_send_apis_envelope(send, valid_fields):
    assert ends_with_one_newline(send(valid_fields))


def test_the_send_apis_errors(send, valid_fields):
    assert ends_with_one_newline(send(valid_fields, content_type="text/plain"))
    assert ends_with_one_newline(send({**valid_fields, "secret": "wrong"}))


@pytest.mark.django_db
def test_the_send_apis_405():
    assert ends_with_one_newline(Client().get("/v1/messages/send"))


def test_the_app_apis_answers_and_errors(client, alice):
    assert ends_with_one_newline(call(client, "GET", "/v1/app/me", alice))
    assert ends_with_one_newline(call(client, "GET", "/v1/app/me"))  # 4001 through DRF's exception handler


def test_an_app_api_204_stays_empty(client, alice):
    response = call(client, "DELETE", "/v1/app/me", alice)
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda protocol: protocol.name)
def test_the_integrations_answers_and_errors(protocol, channel, bob):
    key = new_key(channel, bob)
    assert ends_with_one_newline(protocol.send(Client(), key))
    assert ends_with_one_newline(protocol.send_raw(Client(), "k_" + "0" * 40, "{}", "application/json"))


@pytest.mark.django_db
def test_healthz():
    assert ends_with_one_newline(Client().get("/healthz"))


def test_answers_written_without_django():
    assert json_bytes({"response": {"status": 4000, "message": "m"}}) == b'{"response": {"status": 4000, "message": "m"}}\n'
