"""What the schemathesis run (tests/security/test_fuzz.py) found, one regression test each.

Each was a mismatch between /v1/schema and what the server accepts: a schema-valid
request refused, or a schema-violating one accepted.
"""

import copy
import json

import jsonschema
import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from channels_app.models import Channel
from tests.app_api import _as_json_schema, _components, call, openapi
from tests.helpers import status_of

pytestmark = pytest.mark.django_db


def request_schema(name):
    return {**_as_json_schema(copy.deepcopy(openapi()["components"]["schemas"][name])), "components": _components()}


def valid(name, body):
    return jsonschema.Draft7Validator(request_schema(name)).is_valid(body)


# The send API's schema (the API itself is unchanged: the schema now says what it enforces).


@pytest.mark.parametrize("field", ["to", "token", "secret", "message"])
def test_the_send_schema_refuses_an_empty_required_field(field):
    body = {"to": "u_1", "token": "c_1", "secret": "s", "message": "Hi"}
    assert valid("SendRequest", body)
    assert not valid("SendRequest", {**body, field: ""})
    assert not valid("SendRequestForm", {**body, field: ""})


def test_the_send_schema_refuses_a_nul_character():
    assert not valid("SendRequest", {"to": "u_1\x00", "token": "c_1", "secret": "s", "message": "Hi"})


@pytest.mark.parametrize(
    "url, ok",
    [("", True), ("https://example.org/a?b#c", True), ("HTTP://x", True), ("ftp://x", False), ("http://", False),
     ("http://a b", False), ("http://[x", False), ("/relative", False)],
)
def test_the_send_schema_describes_the_url_rule(url, ok):
    assert valid("SendRequest", {"to": "u_1", "token": "c_1", "secret": "s", "message": "Hi", "url": url}) is ok


@pytest.mark.parametrize("important, silent", [(1, 1), (True, "1"), ("1", True)])
def test_the_send_schema_refuses_important_with_silent(important, silent):
    body = {"to": "u_1", "token": "c_1", "secret": "s", "message": "Hi", "important": important, "silent": silent}
    assert not valid("SendRequest", body)
    assert valid("SendRequest", {**body, "important": 0})


def test_the_send_form_schema_refuses_important_with_silent():
    body = {"to": "u_1", "token": "c_1", "secret": "s", "message": "Hi", "important": "1", "silent": "1"}
    assert not valid("SendRequestForm", body)


def test_the_send_api_refuses_what_the_schema_refuses(send, valid_fields):
    for body in ({**valid_fields, "to": ""}, {**valid_fields, "important": 1, "silent": 1}):
        assert not valid("SendRequest", body)
        assert status_of(send(body)) == 4005


# The app API's schema.


@pytest.mark.parametrize("component", ["RegisterRequest", "DeviceUpdateRequest"])
def test_the_schema_requires_a_push_token_for_android_and_ios(component):
    assert not valid(component, {"platform": "android"})
    assert not valid(component, {"platform": "ios", "push_token": "  "})
    assert valid(component, {"platform": "ios", "push_token": "ab" * 32})
    assert valid(component, {"platform": "web"})


def test_the_schema_accepts_empty_optional_strings():
    # drf-spectacular writes allow_blank as oneOf [pattern, ""]: the pattern must not match "" too.
    assert valid("RegisterRequest", {"platform": "web", "app_version": "", "locale": "", "push_token": ""})


def test_the_schema_refuses_nul_in_strings(client):
    assert not valid("RegisterRequest", {"platform": "web", "locale": "de\x00"})
    response = call(client, "POST", "/v1/app/register", body={"platform": "web", "locale": "de\x00"})
    assert status_of(response) == 4005


@pytest.mark.parametrize(
    "name, ok",
    [("Garage", True), ("  Door ", True), ("bell\nring", False), ("   ", False), ("a\x85b", False), ("a\x7f", False)],
)
def test_the_schema_describes_the_channel_name_rule(name, ok):
    assert valid("ChannelCreateJSONRequest", {"name": name}) is ok


def test_a_logo_is_a_file_in_multipart_and_absent_from_the_json_schema():
    schemas = openapi()["components"]["schemas"]
    assert "logo" not in schemas["ChannelCreateJSONRequest"]["properties"]
    assert "logo" not in schemas["PatchedChannelUpdateJSONRequest"]["properties"]
    for name in ("ChannelCreateFormRequest", "PatchedChannelUpdateFormRequest"):
        assert schemas[name]["properties"]["logo"] == {**schemas[name]["properties"]["logo"], "format": "binary"}
        assert not schemas[name]["properties"]["logo"].get("nullable")


# The app API itself.


def test_a_channel_name_over_64_characters_is_refused_even_if_trimming_would_shorten_it(client, alice):
    response = call(client, "POST", "/v1/app/channels", alice, {"name": " " * 10 + "x" * 60})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


def test_a_channel_name_of_64_characters_is_accepted(client, alice):
    assert call(client, "POST", "/v1/app/channels", alice, {"name": "x" * 64}).status_code == 201


@pytest.mark.parametrize("query", ["after=", "before=", "limit=", "after=1&after=2", "limit=5&limit=6"])
def test_an_empty_or_repeated_inbox_parameter_is_refused(client, alice, query):
    response = call(client, "GET", f"/v1/app/messages?{query}", alice)
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_a_multipart_field_sent_twice_is_refused(client, alice):
    body = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n' for name in ("One", "Two")
    )
    response = client.generic(
        "POST", "/v1/app/channels", body + f"--{BOUNDARY}--\r\n", content_type=MULTIPART_CONTENT, **alice.auth
    )
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


def test_unknown_multipart_fields_sent_twice_are_ignored(client, alice):
    body = encode_multipart(BOUNDARY, {"name": "Cam", "x-extra": ["1", "2"]})
    response = client.generic("POST", "/v1/app/channels", body, content_type=MULTIPART_CONTENT, **alice.auth)
    assert response.status_code == 201, json.loads(response.content)
