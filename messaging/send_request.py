"""Decoding and validating a POST /v1/messages/send body (the published contract)."""

import codecs
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from django.http.multipartparser import MultiPartParser, MultiPartParserError

from kilopush.errors import InvalidHeaders, InvalidValue

MAX_TEXT = 1000
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class SendRequest:
    to: str
    token: str
    secret: str
    message: str
    url: str = ""
    important: bool | None = None


def split_content_type(header):
    media_type, _, params = (header or "").partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def decode_body(request):
    """Returns the body as a dict of fields, or raises 4000/4005."""
    media_type, charset = split_content_type(request.META.get("CONTENT_TYPE"))
    if media_type not in (JSON, FORM, MULTIPART):
        raise InvalidHeaders("Content-Type must be application/json or application/x-www-form-urlencoded")
    try:
        codecs.lookup(charset)
    except LookupError:
        raise InvalidHeaders(f"Unknown charset {charset!r}") from None
    if media_type == MULTIPART:
        return _decode_multipart(request)
    try:
        text = request.body.decode(charset)
    except UnicodeDecodeError:
        raise InvalidHeaders(f"The body is not valid {charset}") from None
    if media_type == JSON:
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidHeaders("The body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidValue("The body must be a JSON object")
        return data
    try:
        return dict(parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidHeaders(f"The form body is not valid {charset}") from None


def _decode_multipart(request):
    try:
        # Reading request.body first enforces DATA_UPLOAD_MAX_MEMORY_SIZE for files too.
        body = request.body
        from io import BytesIO

        post, _files = MultiPartParser(request.META, BytesIO(body), [], request.encoding).parse()
    except (MultiPartParserError, UnicodeDecodeError, ValueError):
        raise InvalidHeaders("The multipart body cannot be decoded") from None
    return {key: post.get(key) for key in post}


def _required_string(data, field, max_length=None):
    value = data.get(field)
    if value is None or value == "":
        raise InvalidValue(f"{field} is required")
    if not isinstance(value, str):
        raise InvalidValue(f"{field} must be a string")
    if max_length is not None and len(value) > max_length:
        raise InvalidValue(f"{field} must be at most {max_length} characters")
    if "\x00" in value:
        raise InvalidValue(f"{field} must not contain NUL characters")
    return value


def _flag(data, field):
    """'0'/'1' (JSON 0/1 or false/true too); absent or empty is None."""
    value = data.get(field)
    if value is None or value == "":
        return None
    if value in ("0", "1"):
        return value == "1"
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise InvalidValue(f"{field} must be 0 or 1")


def _url(data):
    value = data.get("url")
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidValue("url must be a string")
    if len(value) > MAX_TEXT:
        raise InvalidValue(f"url must be at most {MAX_TEXT} characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise InvalidValue("url is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidValue("url must be an http:// or https:// URL")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise InvalidValue("url must not contain spaces or control characters")
    return value


def validate(data):
    """Checks the request's shape (4005) in a fixed field order; returns a SendRequest."""
    to = _required_string(data, "to")
    token = _required_string(data, "token")
    secret = _required_string(data, "secret")
    message = _required_string(data, "message", MAX_TEXT)
    url = _url(data)
    important = _flag(data, "important")
    silent = _flag(data, "silent")
    if silent:
        if important:
            raise InvalidValue("important=1 and silent=1 contradict each other")
        important = False
    return SendRequest(to=to, token=token, secret=secret, message=message, url=url, important=important)
