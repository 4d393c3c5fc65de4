"""Decoding and validating a POST /v1/messages/send body (the published contract)."""

from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from kilopush.errors import InvalidHeaders, InvalidValue

from . import send_guards

MAX_TEXT = 1000
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class Field:
    """One field of the send request: `validate` checks it and send_schema.py describes it from this."""

    name: str
    kind: str  # "required" (non-empty string), "url" (empty or http(s) URL), "flag" (0/1)
    description: str
    max_length: int | None = None


# The published fields, in the order validate() checks them (the first invalid one is reported).
FIELDS = (
    Field("to", "required", "The recipient's User Token (u_…)"),
    Field("token", "required", "The Channel Token (c_…)"),
    Field("secret", "required", "The Channel Secret Key"),
    Field("message", "required", f"1–{MAX_TEXT} characters", max_length=MAX_TEXT),
    Field("url", "url", "An http:// or https:// URL", max_length=MAX_TEXT),
    Field(
        "important",
        "flag",
        "absent: normal notification with sound; 1: high-priority, time-sensitive; 0: no alert, inbox only",
    ),
    Field("silent", "flag", "1 means important=0; important=1 with silent=1 is refused (4005)"),
)


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
    codec = send_guards.text_codec(charset)
    if media_type == MULTIPART:
        return _decode_multipart(request, codec)
    text = send_guards.decode_text(request.body, charset)
    if media_type == JSON:
        data = send_guards.loads_json(text)
        if not isinstance(data, dict):
            raise InvalidValue("The body must be a JSON object")
        return data
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=codec, errors="strict",
                          max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    except (UnicodeError, ValueError):
        raise InvalidHeaders(f"The form body is not valid {charset} or has too many fields") from None
    counts = Counter(key for key, _ in pairs)
    send_guards.refuse_repeated({key for key, count in counts.items() if count > 1})
    return dict(pairs)


def _decode_multipart(request, codec):
    try:
        # Reading request.body first enforces DATA_UPLOAD_MAX_MEMORY_SIZE for files too.
        body = request.body
        from io import BytesIO

        post, _files = MultiPartParser(request.META, BytesIO(body), [], codec).parse()
    except (MultiPartParserError, SuspiciousOperation, UnicodeError, LookupError, ValueError):
        # SuspiciousOperation: more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields or _FILES files.
        raise InvalidHeaders("The multipart body cannot be decoded") from None
    send_guards.refuse_repeated({key for key in post if len(post.getlist(key)) > 1})
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
    send_guards.refuse_surrogates(field, value)
    return value


def _flag(data, field, max_length=None):
    """'0'/'1' (JSON 0/1 or false/true too); absent or empty is None."""
    value = data.get(field)
    if value is None or value == "":
        return None
    if value in ("0", "1"):
        return value == "1"
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise InvalidValue(f"{field} must be 0 or 1")


def _url(data, field="url", max_length=MAX_TEXT):
    value = data.get(field)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidValue("url must be a string")
    if len(value) > max_length:
        raise InvalidValue(f"url must be at most {max_length} characters")
    send_guards.refuse_surrogates("url", value)
    problem = send_guards.url_problem(value)
    if problem:
        raise InvalidValue(problem)
    return value


def validate(data):
    """Checks the request's shape (4005) in a fixed field order; returns a SendRequest."""
    values = {field.name: _CHECKS[field.kind](data, field.name, field.max_length) for field in FIELDS}
    silent = values.pop("silent")
    if silent:
        if values["important"]:
            raise InvalidValue("important=1 and silent=1 contradict each other")
        values["important"] = False
    return SendRequest(**values)


_CHECKS = {"required": _required_string, "url": _url, "flag": _flag}
