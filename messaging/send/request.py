"""Decoding and validating a POST /v1/messages/send body (the published contract)."""

import datetime
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files.uploadhandler import MemoryFileUploadHandler, SkipFile
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils import timezone

from kilopush.errors import InvalidHeaders, InvalidValue

from ..markdown import FORMATS, TEXT
from . import guards as send_guards

MAX_TEXT = 1000
MAX_TITLE = 250
TTL_MIN, TTL_MAX = 60, 2_419_200  # one minute to 28 days (FCM's own maximum)
MAX_ID = 2**63 - 1  # PostgreSQL bigint
MAX_KEY = 255
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class Field:
    """One field of the send request: `validate` checks it and send/schema.py describes it from this."""

    name: str
    kind: str  # "required" (non-empty string), "title" (optional line), "url" (empty or http(s) URL), "flag" (0/1),
    # "ttl", "id", "key", "format" (text/markdown), "https" (empty or https URL)
    description: str
    max_length: int | None = None


# The published fields, in the order validate() checks them (the first invalid one is reported).
FIELDS = (
    Field("to", "required", "The recipient's User Token (u_…)"),
    Field("token", "required", "The Channel Token (c_…)"),
    Field("secret", "required", "The Channel Secret Key"),
    Field("message", "required", f"1–{MAX_TEXT} characters", max_length=MAX_TEXT),
    Field(
        "title",
        "title",
        f"Optional: the notification's title, one line of at most {MAX_TITLE} characters (the channel's name "
        "stays visible as the source)",
        max_length=MAX_TITLE,
    ),
    Field("url", "url", "An http:// or https:// URL", max_length=MAX_TEXT),
    Field("format", "format",
          "text (the default) or markdown: the inbox shows the message formatted, pushes its words"),
    Field(
        "attachment_url",
        "https",
        "Optional: an https:// URL of an image, passed on as the attachment (never fetched by the server). "
        "A multipart send may instead carry the image itself as a file part named attachment",
        max_length=MAX_TEXT,
    ),
    Field(
        "important",
        "flag",
        "absent: normal notification with sound; 1: high-priority, time-sensitive; 0: no alert, inbox only",
    ),
    Field("silent", "flag", "1 means important=0; important=1 with silent=1 is refused (4005)"),
    Field(
        "priority",
        "priority",
        "-2: inbox only, no alert; -1: pushed quietly; 0: normal (the default); 1: high (important=1); "
        "2: emergency, repeated until acknowledged. A JSON integer, or a string in forms; it must agree with "
        "important and silent when they are sent too",
    ),
    Field(
        "retry",
        "seconds",
        "Priority 2 (required there, ignored otherwise): seconds between repeats, at least EMERGENCY_MIN_RETRY (30)",
    ),
    Field(
        "expire",
        "seconds",
        "Priority 2 (required there, ignored otherwise): seconds after which the repeats stop, at most 10800",
    ),
    Field(
        "actions",
        "actions",
        "Up to 3 buttons, in order: {\"type\": \"view\", \"label\", \"url\"} opens the url; {\"type\": \"callback\", "
        "\"label\", \"id\"} sends the channel's webhook event action.pressed. label 1–40 characters, id 1–32 of "
        "[a-z0-9_-]. A JSON array, or that array as a JSON string in forms",
    ),
    Field(
        "ttl",
        "ttl",
        f"Seconds the message lives, {TTL_MIN}–{TTL_MAX}: no push after it, and it leaves the inbox. "
        "A JSON integer, or a decimal string in forms",
    ),
    Field(
        "replace",
        "id",
        "The id of an earlier message of this channel to this recipient: the new one takes its place "
        "and its notification (same collapse key)",
    ),
    Field(
        "idempotency_key",
        "key",
        f"Like the Idempotency-Key header (1–{MAX_KEY} printable ASCII characters), for clients that "
        "cannot set headers: a repeat within 24 h answers the first send's id",
        max_length=MAX_KEY,
    ),
    Field(
        "at",
        "at",
        "Scheduled delivery (issue 24): when to deliver, a Unix time in seconds or an ISO 8601 date and time with a "
        "zone (2026-12-24T18:00:00Z), from now to 30 days ahead (up to a minute in the past is sent at once). "
        "Until then the message's state is scheduled and the recipient sees nothing of it",
    ),
)


# The credentials of the send API; a send key (k_…) stands for all three on the hook and compatibility paths.
CREDENTIALS = ("to", "token", "secret")


@dataclass(frozen=True)
class SendRequest:
    to: str
    token: str
    secret: str
    message: str
    title: str = ""
    url: str = ""
    important: bool | None = None
    priority: int = 0  # -2..2 (Pushover's scale); `important` is derived from it
    retry: int | None = None  # priority 2: seconds between repeats
    expire: int | None = None  # priority 2: seconds until the repeats stop
    actions: tuple = ()  # action buttons: dicts {"type": "view", "label", "url"} or {"type": "callback", "label", "id"}
    ttl: int | None = None
    replace: int | None = None
    idempotency_key: str | None = None
    key: str | None = None  # a send key instead of to, token and secret
    format: str = TEXT
    attachment_url: str = ""
    attachment: object = None  # the uploaded file (multipart part `attachment`), decoded by message_send
    at: datetime.datetime | None = None  # scheduled delivery (aware); None: now


class FormFields(dict):
    """A form's fields (every value a string), told apart from a JSON object where a type matters (ttl)."""


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
        raise InvalidHeaders(f"Content-Type must be {JSON}, {FORM} or {MULTIPART}")
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
    return FormFields(pairs)


ATTACHMENT = "attachment"


class _AttachmentUpload(MemoryFileUploadHandler):
    """Keeps the one file part in memory (it is at most ATTACHMENT_MAX_BYTES, the body's cap saw to that)."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.activated = True
        self.other_files = 0

    def new_file(self, field_name, *args, **kwargs):
        if field_name != ATTACHMENT:
            self.other_files += 1  # refused once parsed (too many files stays 4000, as the parser counts them)
            raise SkipFile()
        self.received = 0
        super().new_file(field_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            raise InvalidValue(attachment_too_large_message())
        return super().receive_data_chunk(raw_data, start)


def attachment_too_large_message():
    return f"attachment must be at most {settings.ATTACHMENT_MAX_BYTES / (1024 * 1024):g} MB"


def _decode_multipart(request, codec):
    """The fields, and the file part `attachment` if sent: a body over DATA_UPLOAD_MAX_MEMORY_SIZE must carry it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidHeaders("Invalid Content-Length") from None
    if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE + settings.ATTACHMENT_MAX_BYTES:
        raise InvalidValue(attachment_too_large_message())  # the body's cap (kilopush.middleware) refused it first
    try:
        # request.body enforces DATA_UPLOAD_MAX_MEMORY_SIZE; a larger body is read (it was capped) and checked below.
        body = request.body if length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE else request.read()
        from io import BytesIO

        upload = _AttachmentUpload()
        post, files = MultiPartParser(request.META, BytesIO(body), [upload], codec).parse()
    except (MultiPartParserError, SuspiciousOperation, UnicodeError, LookupError, ValueError):
        # SuspiciousOperation: more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields or _FILES files.
        raise InvalidHeaders("The multipart body cannot be decoded") from None
    if upload.other_files:
        raise InvalidValue(f"The only file part is {ATTACHMENT}")
    send_guards.refuse_repeated({key for key in post if len(post.getlist(key)) > 1})
    fields = FormFields((key, post.get(key)) for key in post)
    uploads = files.getlist(ATTACHMENT)
    if len(uploads) > 1:
        raise InvalidValue(f"{ATTACHMENT} may be given once")
    if uploads:
        if ATTACHMENT in fields:
            raise InvalidValue(f"{ATTACHMENT} may be given once")
        fields[ATTACHMENT] = uploads[0]
    elif len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise InvalidHeaders(f"Request body too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)")
    return fields


def required_string(data, field, max_length=None):
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


# Line breaks of any kind: a title is one line.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def _title(data, field="title", max_length=MAX_TITLE):
    """An optional single line; absent or empty is ""."""
    value = data.get(field)
    if value is None or value == "":
        return ""
    value = required_string(data, field, max_length)
    if _LINE_BREAKS.search(value):
        raise InvalidValue(f"{field} must be one line")
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


def _format(data, field="format", max_length=None):
    value = data.get(field)
    if value is None or value == "":
        return TEXT
    if value not in FORMATS:
        raise InvalidValue(f"{field} must be {' or '.join(FORMATS)}")
    return value


def _https_url(data, field="attachment_url", max_length=MAX_TEXT):
    """Empty, or an https URL of at most max_length characters (passed on, never fetched)."""
    value = data.get(field)
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f"{field} must be a string")
    if len(value) > max_length:
        raise InvalidValue(f"{field} must be at most {max_length} characters")
    send_guards.refuse_surrogates(field, value)
    problem = send_guards.url_problem(value)
    if problem:
        raise InvalidValue(problem.replace("url", field, 1))
    if not value[:8].lower() == "https://":
        raise InvalidValue(f"{field} must be an https:// URL")
    return value


def _attachment(data):
    """The uploaded file of a multipart send, or None; the field is a file, never a string."""
    value = data.get(ATTACHMENT)
    if value is None:
        return None
    if not hasattr(value, "read"):
        raise InvalidValue(f"{ATTACHMENT} must be a file part of a multipart/form-data body (or use attachment_url)")
    return value


def _ttl(data, field="ttl", max_length=None):
    """A JSON integer, or in a form a decimal string without sign or leading zero; empty or absent is None."""
    value = data.get(field)
    if value is None or value == "":
        return None
    if isinstance(data, FormFields):
        if not (isinstance(value, str) and DECIMAL.fullmatch(value)):
            raise InvalidValue(f"{field} must be a whole number of seconds")
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{field} must be an integer")
    if not TTL_MIN <= value <= TTL_MAX:
        raise InvalidValue(f"{field} must be between {TTL_MIN} and {TTL_MAX} seconds")
    return value


DECIMAL = re.compile(r"[1-9][0-9]{0,17}")  # what the schema's patterns say: no sign, no leading zero, < 10^18
PRINTABLE = re.compile(r"[\x20-\x7e]+")


def message_id(data, field="id", max_length=None, required=False):
    """A message id as the send answer gave it (a decimal string) or a JSON integer; 4005 otherwise."""
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise InvalidValue(f"{field} is required")
        return None
    if isinstance(value, str) and DECIMAL.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return value
    raise InvalidValue(f"{field} must be a message id")


def idempotency_key(value, field="idempotency_key"):
    """1–255 printable ASCII characters; None when absent."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_KEY or not PRINTABLE.fullmatch(value):
        raise InvalidValue(f"{field} must be 1–{MAX_KEY} printable ASCII characters")
    return value


def _key(data, field="idempotency_key", max_length=None):
    return idempotency_key(data.get(field), field)


def validate(data, *, idempotency_header=None, key=None):
    """Checks the request's shape (4005) in a fixed field order; returns a SendRequest.

    `idempotency_header`: the Idempotency-Key header's value, if sent; it wins over the field.
    `key`: a send key, which stands for the credentials (to, token and secret are then not read).
    """
    fields = FIELDS if key is None else [field for field in FIELDS if field.name not in CREDENTIALS]
    values = {field.name: _CHECKS[field.kind](data, field.name, field.max_length) for field in fields}
    if key is not None:
        values.update(to="", token="", secret="", key=key)
    if idempotency_header is not None:
        values["idempotency_key"] = idempotency_key(idempotency_header, "Idempotency-Key")
    values["attachment"] = _attachment(data)
    if values["attachment"] is not None and values["attachment_url"]:
        raise InvalidValue("attachment and attachment_url exclude each other")
    silent = values.pop("silent")
    if silent:
        if values["important"]:
            raise InvalidValue("important=1 and silent=1 contradict each other")
        values["important"] = False
    values["priority"] = _agreed_priority(values.pop("priority"), values["important"])
    values["important"] = important_of(values["priority"])
    values["retry"], values["expire"] = _emergency(values["priority"], values["retry"], values["expire"])
    return SendRequest(**values)


PRIORITY_MIN, PRIORITY_MAX = -2, 2
EMERGENCY = 2
_PRIORITY_FORM = re.compile(r"-?[0-2]")


def important_of(priority):
    """The old `important` of a priority: true for high and emergency, false for inbox only, else null."""
    if priority >= 1:
        return True
    return False if priority == PRIORITY_MIN else None


def _priority(data, field="priority", max_length=None):
    """An integer from -2 to 2 (a decimal string in forms); absent or empty is None."""
    value = data.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _PRIORITY_FORM.fullmatch(value) and value != "-0":
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and PRIORITY_MIN <= value <= PRIORITY_MAX:
        return value
    raise InvalidValue(f"{field} must be an integer from {PRIORITY_MIN} to {PRIORITY_MAX}")


EXPIRE_MAX = 10_800  # three hours, as Pushover


def _seconds(data, field, max_length=None):
    """A whole number of seconds: a JSON integer or a decimal string; absent or empty is None (checked by _emergency)."""
    value = data.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, str) and DECIMAL.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise InvalidValue(f"{field} must be a whole number of seconds")


def _emergency(priority, retry, expire):
    """(retry, expire) of an emergency, both required; None for any other priority (they are ignored there)."""
    if priority != EMERGENCY:
        return None, None
    if retry is None or expire is None:
        raise InvalidValue("priority 2 requires retry and expire")
    if retry < settings.EMERGENCY_MIN_RETRY:
        raise InvalidValue(f"retry must be at least {settings.EMERGENCY_MIN_RETRY} seconds")
    if expire > EXPIRE_MAX:
        raise InvalidValue(f"expire must be at most {EXPIRE_MAX} seconds")
    return retry, expire


MAX_ACTIONS, MAX_LABEL = 3, 40
_ACTION_ID = re.compile(r"[a-z0-9_-]{1,32}")
_ACTION_KEYS = {"view": {"type", "label", "url"}, "callback": {"type", "label", "id"}}


def _actions(data, field="actions", max_length=None):
    """At most 3 view or callback buttons (a JSON array; in a form, the array as a JSON string); absent is ()."""
    value = data.get(field)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidValue("actions must be a JSON array") from None
    if not isinstance(value, list):
        raise InvalidValue("actions must be a JSON array")
    if len(value) > MAX_ACTIONS:
        raise InvalidValue(f"actions: at most {MAX_ACTIONS}")
    actions = []
    for number, action in enumerate(value, 1):
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in _ACTION_KEYS or set(action) != _ACTION_KEYS[kind]:
            raise InvalidValue(f"actions[{number}] must be {{type: view, label, url}} or {{type: callback, label, id}}")
        label = action["label"]
        if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL or _LINE_BREAKS.search(label) or "\x00" in label:
            raise InvalidValue(f"actions[{number}].label must be one line of 1–{MAX_LABEL} characters")
        send_guards.refuse_surrogates("actions", label)
        if kind == "view":
            try:
                url = _url({"url": action["url"]})
            except InvalidValue as exc:
                raise InvalidValue(f"actions[{number}].{exc.message}") from None
            actions.append({"type": "view", "label": label, "url": url or _no_url(number)})
        else:
            if not isinstance(action["id"], str) or not _ACTION_ID.fullmatch(action["id"]):
                raise InvalidValue(f"actions[{number}].id must be 1–32 characters of a-z, 0-9, _ and -")
            actions.append({"type": "callback", "label": label, "id": action["id"]})
    return tuple(actions)


def _no_url(number):
    raise InvalidValue(f"actions[{number}].url is required")


def _agreed_priority(priority, important):
    """The priority, from the field or from important/silent (1 and -2); 4005 when both are sent and differ."""
    implied = None if important is None else (1 if important else PRIORITY_MIN)
    if priority is None:
        return 0 if implied is None else implied
    if implied is not None and implied != priority:
        raise InvalidValue("priority disagrees with important or silent")
    return priority


AT_MAX = datetime.timedelta(days=30)
AT_SKEW = datetime.timedelta(seconds=60)  # a sender's clock this far behind: sent at once, not refused
_UNIX = re.compile(r"[0-9]{1,12}")
_AT_PROBLEM = "at must be a Unix time in seconds or an ISO 8601 date and time with a zone"


def parse_at(value, field="at"):
    """An aware datetime of a Unix time (an integer, or its decimal string) or of ISO 8601 with a zone; 4005 else."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and _UNIX.fullmatch(value):
        seconds = int(value)
    elif isinstance(value, str) and 10 < len(value) <= 40:
        try:
            when = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue(_AT_PROBLEM.replace("at", field, 1)) from None
        if when.tzinfo is None:
            raise InvalidValue(f"{field} must have a zone (Z or +hh:mm)")
        return when
    else:
        raise InvalidValue(_AT_PROBLEM.replace("at", field, 1))
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise InvalidValue(f"{field} must be from now to 30 days ahead") from None


def check_at(when, field="at", now=None):
    """`when` if it is from now (less AT_SKEW) to AT_MAX ahead; 4005 otherwise."""
    now = now or timezone.now()
    if not now - AT_SKEW <= when <= now + AT_MAX:
        raise InvalidValue(f"{field} must be from now to 30 days ahead")
    return when


def _at(data, field="at", max_length=None):
    """Absent or empty is None (now)."""
    value = data.get(field)
    if value is None or value == "":
        return None
    return check_at(parse_at(value, field), field)


_CHECKS = {"required": required_string, "title": _title, "url": _url, "flag": _flag, "ttl": _ttl, "id": message_id,
           "key": _key, "format": _format, "https": _https_url,
           "priority": _priority, "seconds": _seconds, "actions": _actions, "at": _at}
