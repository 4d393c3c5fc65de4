"""Status and withdraw get the send API's public CORS: a page that sends can also follow up."""

import json

import pytest

ORIGIN = "https://some-site.example"


@pytest.fixture
def message_id(send, valid_fields):
    return send(valid_fields).json()["response"]["id"]


@pytest.mark.parametrize("path", ["/v1/messages/status", "/v1/messages/withdraw"])
def test_the_preflight_is_answered_from_any_origin(client, path):
    response = client.options(
        path, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"


@pytest.mark.parametrize("path", ["/v1/messages/status", "/v1/messages/withdraw"])
def test_answers_and_errors_carry_allow_origin(client, channel, message_id, path):
    body = {"token": channel.token, "secret": channel.secret, "id": message_id}
    ok = client.generic("POST", path, json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN)
    wrong = client.generic("POST", path, json.dumps({**body, "secret": "0" * 64}), content_type="application/json",
                           HTTP_ORIGIN=ORIGIN)
    assert ok.json()["response"]["status"] == 200 and wrong.json()["response"]["status"] == 4003
    for response in (ok, wrong):
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        assert response["Access-Control-Allow-Credentials"] == "true"
