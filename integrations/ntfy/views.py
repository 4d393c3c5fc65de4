"""ntfy-compatible publishing: POST/PUT /KEY (the body is the message, or with a Filename an image) and JSON to
POST / ({"topic": KEY, …}). Attach/X-Attach is the attachment's URL, X-Markdown: yes the markdown format.

Only send keys (k_ + 40 hex) are topics. ntfy's priority maps to ours (issue 24): 1 min is inbox only (-2),
2 low quiet (-1), 3 default normal (0), 4 high and 5 urgent high (1: an emergency needs retry and expire,
which ntfy does not send). ntfy's scheduled delivery (At/X-At, In/X-In, Delay/X-Delay, JSON `delay`): a Unix
time, a duration (30m, 2h, 1d, 1h30m) or ISO 8601 with a zone, up to 30 days ahead. Known tags
become emoji before the title, as ntfy shows them. Answers are ntfy-shaped; the topic is shown masked ("k_…abcd").
"""

import re
import time

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from kilopush.answers import JsonAnswer
from kilopush.errors import InvalidHeaders, InvalidValue
from messaging import attachments
from messaging.send import guards as send_guards, request as send_request
from messaging.models import Message, ScheduledMessage

from ..keys import masked
from ..sending import retry_headers, send, shorten_text, shorten_title, unlogged
from .tags import emoji_prefix

PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "urgent": 5, "max": 5}
EMPTY_MESSAGE = "triggered"  # what ntfy stores for an empty body
# Our codes as ntfy's errors: (HTTP status, ntfy code, error).
ERRORS = {
    4000: (400, 40001, "invalid request"),
    4003: (401, 40101, "unauthorized"),
    4005: (400, 40001, "invalid request"),
    4009: (400, 40001, "invalid request"),
    4023: (403, 40301, "forbidden"),
    4024: (403, 40301, "forbidden"),
    4029: (429, 42901, "limit reached: too many requests"),
}


def error(http_status, code, message, headers=None):
    response = JsonAnswer({"code": code, "http": http_status, "error": message}, status=http_status)
    for name, value in (headers or {}).items():
        response[name] = value
    return unlogged(response)


def _method_not_allowed():
    response = error(405, 40501, "method not allowed")
    response["Allow"] = "POST, PUT"
    return response


def _header_text(value):
    """A header's text: WSGI hands headers over as latin-1; ntfy's clients send UTF-8 or RFC 2047 words."""
    try:
        value = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        pass
    if "=?" in value:
        try:
            value = str(make_header(decode_header(value)))
        except (UnicodeError, LookupError, ValueError, TypeError, HeaderParseError):
            pass  # not a valid encoded word: the text as it came
    return value


def _names(*names):
    """A parameter's names as _param reads them: (the header's WSGI key, the query parameter), computed once."""
    return tuple(("HTTP_" + name.upper().replace("-", "_"), name) for name in names)


def _param(request, names):
    """ntfy's readParam: the first of the headers `names`, then of the query parameters of the same names."""
    meta = request.META
    for header, _ in names:
        value = meta.get(header)
        if value:
            return _header_text(value)
    if meta.get("QUERY_STRING"):
        query = request.GET
        for _, name in names:
            value = query.get(name)
            if value:
                return value
    return None


MESSAGE, FILENAME = _names("x-message", "message", "m"), _names("x-filename", "filename", "file", "f")
_FIELDS = {"title": _names("x-title", "title", "t"), "priority": _names("x-priority", "priority", "prio", "p"),
           "tags": _names("x-tags", "tags", "tag", "ta"), "click": _names("x-click", "click"),
           "attach": _names("x-attach", "attach", "a"), "markdown": _names("x-markdown", "markdown", "md"),
           "delay": _names("x-delay", "delay", "x-at", "at", "x-in", "in")}


def _header_fields(request):
    """title, priority, tags, click, attach (an image's URL) and markdown from the headers or the query."""
    fields = {name: _param(request, names) for name, names in _FIELDS.items()}
    fields["click"], fields["attach"] = fields["click"] or "", fields["attach"] or ""
    return fields


# ntfy's durations: "30m", "2 hours", "1d", and Go's "1h30m" or "90s".
_UNITS = {"d": 86400, "day": 86400, "days": 86400, "h": 3600, "hour": 3600, "hours": 3600, "m": 60, "min": 60,
          "mins": 60, "minute": 60, "minutes": 60, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1}
_WORDED = re.compile(r"([0-9]{1,9})\s*(d|days?|h|hours?|m|mins?|minutes?|s|secs?|seconds?)", re.IGNORECASE)
_GO = re.compile(r"(?:[0-9]{1,9}(?:\.[0-9]+)?[hms])+")
_GO_PART = re.compile(r"([0-9]{1,9}(?:\.[0-9]+)?)([hms])")


def _at(value):
    """ntfy's delay as our `at`: a Unix time or ISO 8601 as it is, a duration from now; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a JSON number: a Unix time
    if not isinstance(value, str):
        raise InvalidValue("invalid delay parameter: use a Unix time or a duration like 30m")
    text = value.strip()
    worded = _WORDED.fullmatch(text)
    if worded:
        return int(time.time()) + int(worded.group(1)) * _UNITS[worded.group(2).lower()]
    if _GO.fullmatch(text):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _GO_PART.findall(text))
        return int(time.time() + seconds + 0.5)
    return text  # a Unix time or ISO 8601, checked by the send request like the send API's `at`


def _markdown(value):
    """ntfy's boolean parameters: 1, yes or true (a JSON true too) turn Markdown on."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("1", "yes", "true")


def _priority(value):
    """1-5 or min/low/default/high/urgent/max (a JSON integer too); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in PRIORITIES:
            return PRIORITIES[text]
        value = int(text) if text in ("1", "2", "3", "4", "5") else None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidValue("invalid priority: use 1-5 or min, low, default, high, urgent, max")
    return value


def _our_priority(priority):
    """ntfy's 1-5 on our -2..2 scale (None: absent, the default)."""
    if priority is None:
        return None
    return {1: -2, 2: -1, 3: 0, 4: 1, 5: 1}[priority]


def _tags(value):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return [tag.strip() for tag in value if tag.strip()]
    raise InvalidValue("tags must be a list of strings")


def _optional_string(value, name):
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string")
    return value


class _Publication:
    """One ntfy publication's fields, read from headers and query (POST /KEY) or from JSON (POST /)."""

    def __init__(self, *, key, message, title, priority, tags, click, attach="", markdown=None, upload=None,
                 delay=None):
        self.key = key
        self.upload = upload
        self.priority, self.tags = _priority(priority), _tags(tags)
        message = message.strip() if isinstance(message, str) else message
        title = _optional_string(title, "title") or ""
        emoji = emoji_prefix(self.tags)
        if emoji and title:
            title = f"{emoji} {title}"
        elif emoji and isinstance(message, str):
            message = f"{emoji} {message or EMPTY_MESSAGE}"
        self.fields = {"message": shorten_text(message or EMPTY_MESSAGE), "title": shorten_title(title),
                       "url": click, "priority": _our_priority(self.priority), "attachment_url": attach,
                       "format": "markdown" if _markdown(markdown) else "text", "attachment": upload,
                       "at": _at(delay)}

    def request(self):
        return send_request.validate(self.fields, key=self.key)


def _answer(sent, publication, request=None):
    if sent.internal:
        return error(500, 50001, "internal server error")
    if sent.error is not None:
        http_status, code, text = ERRORS.get(sent.error.status, (400, 40001, "invalid request"))
        if http_status == 400:
            text = f"{text}: {sent.error.message}"
        return error(http_status, code, text, retry_headers(sent.error))
    # A scheduled message's time is its delivery time, as ntfy answers.
    when = sent.request.at or timezone.now()
    body = {"id": str(sent.message_id), "time": int(when.timestamp()), "event": "message",
            "topic": masked(publication.key), "message": sent.request.message}
    if sent.request.title:
        body["title"] = sent.request.title
    if publication.priority is not None:
        body["priority"] = publication.priority
    if publication.tags:
        body["tags"] = publication.tags
    if sent.request.url:
        body["click"] = sent.request.url
    if sent.request.attachment is not None or sent.request.attachment_url:
        body["attachment"] = _attachment_answer(sent, publication, request)
    return JsonAnswer(body, json_dumps_params={"ensure_ascii": False})


def _attachment_answer(sent, publication, request):
    """ntfy's `attachment` object: name, type, size and url (of the stored, cleaned image)."""
    # A scheduled message's upload waits in its ScheduledMessage (the same attachment fields) until its release.
    message = Message.objects.filter(pk=sent.message_id).first() or ScheduledMessage.objects.get(pk=sent.message_id)
    item = attachments.attachment_of(message, request) or {}
    name = publication.upload.name if publication.upload is not None else item.get("url", "").rsplit("/", 1)[-1]
    answer = {"name": name, "url": item.get("url")}
    if item.get("content_type"):
        answer.update(type=item["content_type"], size=item["size"])
    return answer


def _publish(request, read):
    held = {}

    def build():
        held["publication"] = read()
        return held["publication"].request()

    return _answer(send(request, build, name="ntfy"), held.get("publication"), request)


@csrf_exempt
def publish(request, key):
    """POST or PUT /KEY: the body is the message; title, priority, tags and click from headers or the query."""
    if request.method not in ("POST", "PUT"):
        return _method_not_allowed()

    def read():
        message = _param(request, MESSAGE)
        filename = _param(request, FILENAME)
        body = _body(request)
        upload = None
        if filename or (request.method == "PUT" and not _utf8(body)):
            # ntfy's upload (curl -T snapshot.jpg -H "Filename: snapshot.jpg" …/KEY): the body is the image.
            upload = SimpleUploadedFile(filename or "attachment", body)
            message = message or f"You received a file: {filename or 'attachment'}"  # what ntfy says
        elif message is None:
            if len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                raise InvalidHeaders(f"Request body too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)")
            try:
                message = body.decode("utf-8")
            except UnicodeError:
                raise InvalidHeaders("the message must be UTF-8 text, or an image with a Filename") from None
        return _Publication(key=key, message=message, upload=upload, **_header_fields(request))

    return _publish(request, read)


def _body(request):
    """The raw body: a PUT's may be an image up to ATTACHMENT_MAX_BYTES (kilopush.middleware capped it)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidHeaders("Invalid Content-Length") from None
    return request.body if length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE else request.read()


def _utf8(body):
    try:
        body.decode("utf-8")
    except UnicodeError:
        return False
    return True


@csrf_exempt
def publish_json(request):
    """POST or PUT / with {"topic": KEY, "message", "title", "priority", "tags", "click"} (ntfy's JSON publishing)."""
    if request.method not in ("POST", "PUT"):
        return _method_not_allowed()

    def read():
        _media_type, charset = send_request.split_content_type(request.META.get("CONTENT_TYPE"))
        data = send_guards.loads_json(send_guards.decode_text(request.body, charset))
        if not isinstance(data, dict):
            raise InvalidHeaders("the body must be a JSON object")
        topic = data.get("topic")
        if not isinstance(topic, str) or not topic:
            raise InvalidValue("topic is required")
        # Like ntfy, the headers count too (Apprise sends X-Priority, X-Tags and X-Click beside its JSON).
        headers = _header_fields(request)

        def field(name):
            return data[name] if data.get(name) is not None else headers[name]

        return _Publication(key=topic, message=_optional_string(data.get("message"), "message"),
                            title=field("title"), priority=field("priority"), tags=field("tags"),
                            click=_optional_string(field("click"), "click") or "",
                            attach=_optional_string(field("attach"), "attach") or "", markdown=field("markdown"),
                            delay=field("delay"))

    return _publish(request, read)
