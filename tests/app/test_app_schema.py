"""The OpenAPI schema at /v1/schema and the docs at /docs."""

import re

import jsonschema
import pytest
from drf_spectacular.validation import validate_schema

from tests.app_api import assert_matches_schema, openapi

pytestmark = pytest.mark.django_db

APP_PATHS = [
    "/v1/app/register",
    "/v1/app/me",
    "/v1/app/device",
    "/v1/app/messages",
    "/v1/app/messages/read",
    "/v1/app/messages/{message_id}",
    "/v1/app/messages/{message_id}/read",
    "/v1/app/channels",
    "/v1/app/channels/{token}",
    "/v1/app/channels/{token}/rotate-secret",
    "/v1/app/blocked",
    "/v1/app/blocked/{token}",
]


def test_the_schema_is_valid_openapi_3(client):
    response = client.get("/v1/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_the_schema_describes_every_app_endpoint_and_the_send_api():
    assert set(APP_PATHS + ["/v1/messages/send"]) <= set(openapi()["paths"])


def test_the_send_api_is_described_with_its_bodies_and_envelopes():
    operation = openapi()["paths"]["/v1/messages/send"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert set(operation["responses"]) == {"200", "400", "405", "500"}


def test_the_send_apis_real_answers_match_the_schema(send, valid_fields):
    assert_matches_schema("POST", "/v1/messages/send", send(valid_fields))
    assert_matches_schema("POST", "/v1/messages/send", send({**valid_fields, "secret": "wrong"}))
    assert_matches_schema("POST", "/v1/messages/send", send(raw="{nope"))


def test_the_send_request_schema_accepts_what_the_api_accepts(valid_fields):
    components = openapi()["components"]
    schema = {**components["schemas"]["SendRequest"], "components": components}
    jsonschema.validate({**valid_fields, "important": 1, "silent": False, "url": "https://x.org"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"to": "u_x"}, schema)


def test_the_schema_check_catches_an_undocumented_field(client, alice):
    """The conformance check used by every app API test is not toothless."""
    from django.http import JsonResponse

    response = JsonResponse(
        {"user_token": alice.token, "created_at": "2026-01-01T00:00:00Z", "channels": 0, "unread": 0, "extra": 1}
    )
    with pytest.raises(jsonschema.ValidationError):
        assert_matches_schema("GET", "/v1/app/me", response)


def test_app_endpoints_declare_the_bearer_scheme():
    schema = openapi()
    assert schema["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/app/me"]["get"]["security"] == [{"accessToken": []}]
    assert "security" not in schema["paths"]["/v1/app/register"]["post"]


def test_the_docs_render_without_external_urls(client, settings):
    settings.DEBUG = False
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    assert all(url.startswith("/") for url in urls), urls
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html)


def test_the_docs_static_files_are_local(client):
    html = client.get("/docs").content.decode()
    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    assert bundle.startswith("/static/drf_spectacular_sidecar/")
    from django.contrib.staticfiles import finders

    assert finders.find(bundle.removeprefix("/static/"))


# --- /docs for a newcomer: the send API first, real examples, /docs/ works ---------------------------


def test_the_send_api_comes_first():
    schema = openapi()
    assert list(schema["paths"])[:3] == ["/v1/messages/send", "/v1/messages/status", "/v1/messages/withdraw"]
    assert schema["tags"][0]["name"] == "messages"


@pytest.mark.parametrize("body", ["SendRequest", "SendRequestForm", "MessageRequest", "MessageRequestForm"])
def test_each_send_field_has_a_real_example_that_its_schema_accepts(body):
    components = openapi()["components"]["schemas"]
    for name, field in components[body]["properties"].items():
        assert "example" in field, name
        jsonschema.validate(field["example"], field)


def test_the_send_requests_example_is_a_valid_request_with_realistic_values():
    request = openapi()["components"]["schemas"]["SendRequest"]
    example = request["example"]
    jsonschema.validate(example, request)
    assert example["to"].startswith("u_") and example["token"].startswith("c_")
    assert example["message"] == "Door bell"


@pytest.mark.parametrize("path", ["/docs/", "/docs/?x=1"])
def test_docs_with_a_trailing_slash_leads_to_the_docs(client, path):
    response = client.get(path)
    assert response.status_code in (301, 302) and response["Location"] == path.replace("/docs/", "/docs")
    assert client.get(path, follow=True).status_code == 200
