"""Random bodies, content types and headers on every compatibility path: an answer in the protocol's shape, never a 500."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings, strategies as st

pytestmark = pytest.mark.django_db

CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
                 "text/plain", "text/plain; charset=latin-1", "application/json; charset=bogus", "", "image/png"]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=300)
HEADERS = st.dictionaries(
    st.sampled_from(["HTTP_X_TITLE", "HTTP_X_PRIORITY", "HTTP_X_TAGS", "HTTP_X_CLICK", "HTTP_X_MESSAGE", "HTTP_P",
                     "HTTP_T", "HTTP_X_GOTIFY_KEY", "HTTP_AUTHORIZATION", "HTTP_IDEMPOTENCY_KEY", "HTTP_X_MARKDOWN"]),
    HEADER_TEXT, max_size=5)
JSON_BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["message", "title", "priority", "tags", "click", "extras", "topic", "url", "important",
                         "silent", "ttl", "replace", "alerts", "version", "orgId", "status", "idempotency_key"]),
        children, max_size=6),
    max_leaves=20)


def paths(key):
    return [f"/v1/hooks/{key}", f"/message?token={key}", "/message", f"/{key}", "/"]


def assert_shaped(response):
    assert response.status_code < 500, response.content[:300]
    if response.status_code != 200:
        assert response["Content-Type"].startswith("application/json"), response.content[:300]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(CONTENT_TYPES), headers=HEADERS,
       which=st.integers(0, 4))
def test_random_bytes_never_give_a_500(key, body, content_type, headers, which):
    assert_shaped(Client().generic("POST", paths(key)[which], body, content_type=content_type, **headers))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON_BODIES, which=st.integers(0, 4), with_topic=st.booleans())
def test_random_json_never_gives_a_500(key, data, which, with_topic):
    if with_topic and isinstance(data, dict):
        data["topic"] = key
    response = Client().generic("POST", paths(key)[which], json.dumps(data), content_type="application/json",
                                HTTP_X_GOTIFY_KEY=key)
    assert_shaped(response)
