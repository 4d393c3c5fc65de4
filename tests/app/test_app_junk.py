"""Junk input to the app API never produces a 500: always the envelope with a 40xx status."""

import pytest

from tests.app_api import call
from tests.helpers import status_of

pytestmark = pytest.mark.django_db

BODY_ENDPOINTS = [
    ("POST", "/v1/app/register"),
    ("PUT", "/v1/app/device"),
    ("POST", "/v1/app/messages/read"),
    ("POST", "/v1/app/channels"),
    ("PATCH", "/v1/app/channels/{channel}"),
    ("POST", "/v1/app/blocked"),
]

# (raw body, content type, expected status)
JUNK = [
    (b"{nope", "application/json", 4000),
    (b'{"name": "a"', "application/json", 4000),
    (b"\xff\xfe{}", "application/json", 4000),
    (b"[" * 20000 + b"]" * 20000, "application/json", 4000),
    (b'{"a": NaN}', "application/json", 4000),
    (b"x" * 70000, "application/json", 4000),
    (b"name=x", "application/x-www-form-urlencoded", 4000),
    (b"<xml/>", "text/xml", 4000),
    (b'{"name": "x"}', "", 4000),
    (b"--broken\r\n", "multipart/form-data; boundary=zzz", None),
    (b"[]", "application/json", 4005),
    (b'["platform", "android"]', "application/json", 4005),
    (b'"a string"', "application/json", 4005),
    (b"42", "application/json", 4005),
    (b"null", "application/json", 4005),
    (b'{"name": {"$gt": ""}, "platform": {"x": 1}, "channel": [], "up_to": {}}', "application/json", 4005),
]


@pytest.fixture
def endpoint_path(channel):
    return lambda path: path.format(channel=channel.token)


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw, content_type, expected", JUNK)
def test_junk_bodies_get_an_envelope_not_a_500(client, alice, endpoint_path, method, path, raw, content_type, expected):
    response = call(client, method, endpoint_path(path), alice, raw=raw, content_type=content_type)
    assert response.status_code < 500
    if expected is None and method == "PATCH":
        assert response.status_code == 200  # a multipart body without parts changes nothing
        return
    if expected is None:
        expected = 4005 if "channels" in path else 4000  # multipart is accepted only by channel create/patch
    assert status_of(response) == expected, response.json()


@pytest.mark.parametrize(
    "path",
    ["/v1/app/nope", "/v1/app/messages/abc", "/v1/app/messages/-1/read", "/v1/app/channels/c_%00/rotate-secret"],
)
def test_unknown_paths_get_a_json_404(client, alice, path):
    response = client.post(path, **alice.auth)
    assert response.status_code == 404
    assert status_of(response) == 4004


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/v1/app/register"), ("POST", "/v1/app/me"), ("DELETE", "/v1/app/messages"), ("PUT", "/v1/app/blocked")],
)
def test_a_wrong_method_is_405_with_4005(client, alice, method, path):
    response = call(client, method, path, alice)
    assert (response.status_code, status_of(response)) == (405, 4005)


def test_too_many_multipart_fields_is_refused(client, alice):
    body = (
        "".join(f'--zz\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nx\r\n' for n in range(1100)) + "--zz--\r\n"
    )
    response = call(
        client, "POST", "/v1/app/channels", alice, raw=body, content_type="multipart/form-data; boundary=zz"
    )
    assert (response.status_code, status_of(response)) == (400, 4000)


def test_a_multipart_logo_that_is_text_is_refused(client, alice):
    body = (
        '--zz\r\nContent-Disposition: form-data; name="name"\r\n\r\nCam\r\n'
        '--zz\r\nContent-Disposition: form-data; name="logo"\r\n\r\nnot a file\r\n--zz--\r\n'
    )
    response = call(
        client, "POST", "/v1/app/channels", alice, raw=body, content_type="multipart/form-data; boundary=zz"
    )
    assert (response.status_code, status_of(response)) == (400, 4005)
