"""CORS (issue 10): any page may call the send API; the app API only from CORS_ALLOWED_ORIGINS; never the admin."""

import json

import pytest

ORIGIN = "https://some-site.example"


def preflight(client, path, method="POST", headers="content-type", origin=ORIGIN):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def allowed_headers(response):
    return {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}


def test_the_send_api_answers_a_preflight_from_any_origin(client):
    response = preflight(client, "/v1/messages/send", headers="content-type,idempotency-key")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert {"content-type", "idempotency-key"} <= allowed_headers(response)
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Origin" in response["Vary"]


def test_a_send_from_a_page_carries_allow_origin_and_credentials(send, valid_fields):
    response = send(valid_fields, HTTP_ORIGIN=ORIGIN)
    assert json.loads(response.content)["response"]["status"] == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response["Vary"]


def test_the_send_api_exposes_the_rate_limit_headers(send, valid_fields):
    exposed = send(valid_fields, HTTP_ORIGIN=ORIGIN)["Access-Control-Expose-Headers"].lower()
    for name in ("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert name in exposed


@pytest.mark.parametrize(
    "fields, code",
    [({"secret": "wrong"}, 4003), ({"message": ""}, 4005)],
)
def test_an_error_of_the_send_api_carries_allow_origin(send, valid_fields, fields, code):
    response = send({**valid_fields, **fields}, HTTP_ORIGIN=ORIGIN)
    assert json.loads(response.content)["response"]["status"] == code
    assert response["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.django_db  # a refused body still checks the client's ban (messaging/bans.py)
def test_a_body_that_is_not_json_is_answered_with_allow_origin(send):
    response = send(raw="{", HTTP_ORIGIN=ORIGIN)
    assert (json.loads(response.content)["response"]["status"], response["Access-Control-Allow-Origin"]) == (
        4000,
        ORIGIN,
    )


def test_a_500_of_the_send_api_carries_allow_origin(send, valid_fields, monkeypatch):
    import messaging.send.views

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(messaging.send.views, "message_send", broken)
    response = send(valid_fields, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 500
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_a_send_without_origin_gets_the_wildcard(send, valid_fields):
    response = send(valid_fields)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


def test_a_future_sender_endpoint_is_covered_too(client):
    # Every /v1/messages/... endpoint takes its credentials in the body, like send.
    assert preflight(client, "/v1/messages/status").status_code == 204


def test_the_app_api_answers_no_cors_by_default(client, alice):
    response = client.get("/v1/app/me", HTTP_ORIGIN=ORIGIN, **alice.auth)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    answer = preflight(client, "/v1/app/me", method="GET", headers="authorization")
    assert "Access-Control-Allow-Origin" not in answer
    assert answer.status_code != 204


def test_the_app_api_answers_cors_to_a_listed_origin(client, alice, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    answer = preflight(client, "/v1/app/channels/c_x", method="PATCH", headers="authorization,content-type",
                       origin="https://app.example")
    assert answer.status_code == 204
    assert answer["Access-Control-Allow-Origin"] == "https://app.example"
    assert {"authorization", "content-type"} <= allowed_headers(answer)
    assert {"GET", "POST", "PATCH", "PUT", "DELETE"} <= {
        m.strip() for m in answer["Access-Control-Allow-Methods"].split(",")
    }
    response = client.get("/v1/app/me", HTTP_ORIGIN="https://app.example", **alice.auth)
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Credentials" not in response  # bearer tokens, no cookies


def test_the_app_api_answers_no_cors_to_an_origin_not_listed(client, alice, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    response = client.get("/v1/app/me", HTTP_ORIGIN="https://evil.example", **alice.auth)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight(client, "/v1/app/me", origin="https://evil.example")


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/"])
def test_the_admin_never_answers_cors(client, settings, path):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    assert "Access-Control-Allow-Origin" not in client.get(path, HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in preflight(client, path)
