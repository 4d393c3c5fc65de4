"""The send API answers 4000/4005, never 500, to hostile bodies (issue 16, items 4 and 10).

Each family of finding is also a property test, so the class stays closed: every charset
name Python knows (text and non-text codecs), lone surrogates in every field, nesting
depth, field and file counts.
"""

import encodings.aliases
import json
from urllib.parse import quote

import pytest
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from kilopush.errors import ApiError
from messaging.send import request as send_request
from messaging.models import Message
from tests.helpers import status_of

FIELDS = ("to", "token", "secret", "message", "url")
factory = RequestFactory()


def answer(send, *args, **kwargs):
    response = send(*args, **kwargs)
    assert response["Content-Type"].startswith("application/json"), response.content
    assert response.status_code in (200, 400), (response.status_code, response.content)
    return status_of(response)


# --- depth ---

def test_json_nested_10000_deep_is_4000(send, valid_fields):
    deep = json.dumps(valid_fields)[:-1] + ', "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    assert answer(send, raw=deep) == 4000
    assert not Message.objects.exists()


@pytest.mark.django_db  # a refused body still checks the client's ban (messaging/bans.py)
def test_json_nested_10000_deep_objects_is_4000(send):
    assert answer(send, raw='{"a":' * 10_000 + "1" + "}" * 10_000) == 4000


# --- surrogates ---

@pytest.mark.parametrize("field, value", [("token", "c_\\udfff"), ("message", "a\\ud800"), ("to", "\\udc80"),
                                          ("secret", "\\ud83d"), ("url", "https://example.com/\\udfff")])
def test_a_lone_surrogate_in_a_field_is_4005(send, valid_fields, field, value):
    body = json.dumps({**valid_fields, field: "PLACEHOLDER"}).replace("PLACEHOLDER", value)
    assert answer(send, raw=body) == 4005
    assert not Message.objects.exists()


def test_a_surrogate_pair_is_an_ordinary_character(send, valid_fields):
    body = json.dumps({**valid_fields, "message": "PLACEHOLDER"}).replace("PLACEHOLDER", "bell \\ud83d\\udd14")
    assert answer(send, raw=body) == 200
    assert Message.objects.get().text == "bell \U0001f514"


def test_a_lone_surrogate_in_an_unknown_field_is_ignored_like_the_field(send, valid_fields):
    body = json.dumps({**valid_fields, "extra": "PLACEHOLDER"}).replace("PLACEHOLDER", "\\udfff")
    assert answer(send, raw=body) == 200


# --- charsets ---

@pytest.mark.parametrize("charset", ["rot13", "zlib", "hex", "undefined", "base64", "bz2", "uu", "quopri",
                                     "rot_13", "zlib_codec", "idna", "punycode", "unicode_escape", "mbcs", "nope"])
def test_a_charset_that_is_not_a_text_encoding_is_4000(send, valid_fields, charset):
    for form in (False, True):
        status = answer(send, valid_fields, form=form,
                        content_type=("application/x-www-form-urlencoded" if form else "application/json")
                        + f"; charset={charset}")
        assert status in (4000, 200), (charset, form, status)  # idna/punycode/unicode_escape may decode ASCII


@pytest.mark.parametrize("charset", ["rot13", "zlib", "hex", "undefined"])
def test_a_non_text_codec_as_multipart_charset_is_4000(send, valid_fields, charset):
    body = encode_multipart(BOUNDARY, valid_fields)
    assert answer(send, raw=body, content_type=f"{MULTIPART_CONTENT}; charset={charset}") == 4000


@pytest.mark.parametrize("charset", ["latin-1", "windows-1252", "utf-16", "shift_jis", "UTF-8"])
def test_real_text_charsets_still_work(send, valid_fields, charset):
    body = json.dumps({**valid_fields, "message": "Türklingel"}).encode(charset)
    assert answer(send, raw=body, content_type=f"application/json; charset={charset}") == 200


ALL_CODECS = sorted(set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
                    | {"rot13", "hex", "zlib", "undefined", "base64", "bz2", "uu", "quopri", "unicode_escape",
                       "raw_unicode_escape", "idna", "punycode", "utf-7", "utf-16", "utf-32", "cp65001"})


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(charset=st.sampled_from(ALL_CODECS), kind=st.sampled_from(["json", "form", "multipart"]),
       body=st.binary(max_size=200))
def test_no_charset_makes_the_decoder_fail_unmapped(charset, kind, body):
    content_type = {"json": "application/json", "form": "application/x-www-form-urlencoded",
                    "multipart": f"{MULTIPART_CONTENT}"}[kind] + f"; charset={charset}"
    request = factory.generic("POST", "/v1/messages/send", body, content_type=content_type)
    try:
        send_request.validate(send_request.decode_body(request))
    except ApiError as exc:
        assert exc.status in (4000, 4005)


# --- field and file counts ---

def test_multipart_with_1100_fields_is_4000(send, valid_fields):
    fields = {**valid_fields, **{f"f{i}": "x" for i in range(1100)}}
    assert answer(send, raw=encode_multipart(BOUNDARY, fields), content_type=MULTIPART_CONTENT) == 4000


def test_multipart_with_150_files_is_4000(send, valid_fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"file{i}": SimpleUploadedFile(f"{i}.txt", b"x") for i in range(150)}
    body = encode_multipart(BOUNDARY, {**valid_fields, **files})
    assert answer(send, raw=body, content_type=MULTIPART_CONTENT) == 4000


def test_a_form_with_1100_fields_is_4000(send, valid_fields):
    fields = {**valid_fields, **{f"f{i}": "x" for i in range(1100)}}
    assert answer(send, fields, form=True) == 4000


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(0, 1500), files=st.integers(0, 160), depth=st.integers(0, 5000))
def test_no_count_or_depth_is_a_500(count, files, depth):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fields = {f"f{i}": "x" for i in range(count)}
    fields.update({f"file{i}": SimpleUploadedFile(f"{i}.txt", b"x") for i in range(files)})
    for body, content_type in [
        (encode_multipart(BOUNDARY, fields), MULTIPART_CONTENT),
        ("&".join(f"{k}=x" for k in fields), "application/x-www-form-urlencoded"),
        ('{"a":' + "[" * depth + "]" * depth + "}", "application/json"),
    ]:
        request = factory.generic("POST", "/v1/messages/send", body, content_type=content_type)
        try:
            send_request.validate(send_request.decode_body(request))
        except ApiError as exc:
            assert exc.status in (4000, 4005)


# --- surrogates, property ---

lone = st.integers(0xD800, 0xDFFF).map(lambda code: f"\\u{code:04x}")


@hsettings(max_examples=60, deadline=None)
@given(field=st.sampled_from(FIELDS), prefix=st.text(alphabet="abc", max_size=5), surrogate=lone)
def test_any_lone_surrogate_in_any_field_is_4005(field, prefix, surrogate):
    fields = {"to": "u_" + "1" * 40, "token": "c_" + "2" * 40, "secret": "3" * 64, "message": "m",
              "url": "https://example.com/"}
    body = json.dumps({**fields, field: "PLACEHOLDER"}).replace("PLACEHOLDER", prefix + surrogate)
    request = factory.generic("POST", "/v1/messages/send", body, content_type="application/json")
    with pytest.raises(ApiError) as raised:
        send_request.validate(send_request.decode_body(request))
    assert raised.value.status == 4005


# --- duplicate keys (item 10) ---

@pytest.mark.parametrize("key", ["to", "token", "secret"])
def test_a_duplicate_json_key_is_4005(send, valid_fields, key):
    body = json.dumps(valid_fields)[:-1] + f', "{key}": "other"}}'
    assert answer(send, raw=body) == 4005
    assert not Message.objects.exists()


@pytest.mark.parametrize("key", ["to", "token", "secret"])
def test_a_duplicate_form_key_is_4005(send, valid_fields, key):
    body = "&".join(f"{k}={quote(v)}" for k, v in valid_fields.items()) + f"&{key}=other"
    assert answer(send, raw=body, content_type="application/x-www-form-urlencoded") == 4005


@pytest.mark.parametrize("key", ["to", "token", "secret"])
def test_a_duplicate_multipart_key_is_4005(send, valid_fields, key):
    body = encode_multipart(BOUNDARY, {**valid_fields, key: [valid_fields[key], "other"]})
    assert answer(send, raw=body, content_type=MULTIPART_CONTENT) == 4005


def test_a_duplicate_key_in_a_malformed_body_is_still_4000(send, valid_fields):
    assert answer(send, raw='{"to": "a", "to": "b", ') == 4000


def test_a_duplicate_of_another_key_is_still_last_one_wins(send, valid_fields):
    body = json.dumps(valid_fields)[:-1] + ', "message": "second"}'
    assert answer(send, raw=body) == 200
    assert Message.objects.get().text == "second"


# --- URLs (item 10) ---

@pytest.mark.parametrize("url", ["http://::::", "http://@@@", "http://a/\x7f", "http://", "http://:80/",
                                 "http://a b/", "http://[::1/", "http://[zz::1]/", "http://host:99999/",
                                 "http://host:port/", "http://-bad-.example/", "http://a..b/", "http://a/\x85",
                                 "http:///path", "https://" + "a" * 64 + ".example/", "http://exa mple.com/",
                                 "http://user@/", "http://a\x00b/"])
def test_a_url_without_a_host_or_with_a_broken_one_is_4005(send, valid_fields, url):
    assert answer(send, {**valid_fields, "url": url}) == 4005


@pytest.mark.parametrize("url", ["http://homeassistant:8123/", "http://homeassistant", "http://192.168.1.10/cam",
                                 "http://[::1]:8080/x", "http://[fe80::1]/", "https://example.com/a?b=c#d",
                                 "HTTPS://Example.COM./", "http://user:pass@nas.local:5000/", "http://my_nas/",
                                 "https://bücher.example/", "http://10.0.0.1:65535/", "http://a/%7F"])
def test_lan_hosts_ips_and_ordinary_urls_are_accepted(send, valid_fields, url):
    assert answer(send, {**valid_fields, "url": url}) == 200
