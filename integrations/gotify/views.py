"""POST /message: Gotify's publishing API, for Apprise's gotify://, Uptime Kuma, Healthchecks, Proxmox and others.

The key is the application token (?token=, X-Gotify-Key or Authorization: Bearer). Gotify's priority maps
to ours as Gotify's Android app treats it (issue 24): 0 is inbox only (-2), 1-3 quiet (-1), 4-7 normal (0),
8-10 high (1); absent is normal. Errors are Gotify-shaped: {"error", "errorCode", "errorDescription"}.
"""

import datetime
from http import HTTPStatus

from django.views.decorators.csrf import csrf_exempt

from kilopush.answers import JsonAnswer
from kilopush.errors import Forbidden, InvalidValue
from messaging.send import request as send_request
from messaging.models import Message
from messaging.send.request import FormFields

from ..sending import retry_headers, send, shorten_text, shorten_title, unlogged

# Our codes as Gotify's HTTP statuses (docs/integrations.md).
HTTP_STATUS = {4000: 400, 4003: 401, 4005: 400, 4009: 400, 4023: 403, 4024: 403, 4029: 429}
NO_TOKEN = "you need to provide a valid access token or user credentials to access this api"


def error(http_status, description, headers=None):
    response = JsonAnswer({"error": HTTPStatus(http_status).phrase, "errorCode": http_status,
                             "errorDescription": description}, status=http_status)
    for name, value in (headers or {}).items():
        response[name] = value
    return unlogged(response)


def _token(request):
    header = request.META.get("HTTP_X_GOTIFY_KEY")
    if header:
        return header
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.GET.get("token", "")


def _priority(data):
    """0-10 as a JSON integer or a form's decimal string; None when absent."""
    value = data.get("priority")
    if value is None or value == "":
        return None
    if isinstance(data, FormFields) and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise InvalidValue("priority must be an integer from 0 to 10")
    return value


def _our_priority(priority):
    """Gotify's 0-10 on our -2..2 scale (None: absent, the default)."""
    if priority is None:
        return None
    return -2 if priority == 0 else -1 if priority <= 3 else 0 if priority <= 7 else 1


def _extras(data):
    extras = data.get("extras")
    if extras is None:
        return None
    if not isinstance(extras, dict):
        raise InvalidValue("extras must be an object")
    return extras


def _click(extras):
    """extras["client::notification"]["click"]["url"], if given."""
    notification = (extras or {}).get("client::notification")
    click = notification.get("click") if isinstance(notification, dict) else None
    return click.get("url") if isinstance(click, dict) else None


def _big_image(extras):
    """extras["client::notification"]["bigImageUrl"], if given: the attachment's URL (https, never fetched)."""
    notification = (extras or {}).get("client::notification")
    return notification.get("bigImageUrl") if isinstance(notification, dict) else None


def _format(extras):
    """extras["client::display"]["contentType"] "text/markdown" is the markdown format; anything else is text."""
    display = (extras or {}).get("client::display")
    content_type = display.get("contentType") if isinstance(display, dict) else None
    return "markdown" if isinstance(content_type, str) and content_type.strip().lower() == "text/markdown" else "text"


@csrf_exempt
def create_message(request):
    if request.method != "POST":
        response = error(405, "use POST")
        response["Allow"] = "POST"
        return response
    parsed = {}

    def build():
        key = _token(request)
        if not key:
            raise Forbidden(NO_TOKEN)
        data = send_request.decode_body(request)
        parsed["priority"], parsed["extras"] = _priority(data), _extras(data)
        fields = {"message": shorten_text(data.get("message")), "title": shorten_title(data.get("title")),
                  "url": _click(parsed["extras"]), "priority": _our_priority(parsed["priority"]),
                  "attachment_url": _big_image(parsed["extras"]), "format": _format(parsed["extras"])}
        return send_request.validate(fields, key=key)

    sent = send(request, build, name="gotify")
    if sent.internal:
        return error(500, "internal server error")
    if sent.error is not None:
        description = "invalid application token" if sent.error.status == 4003 else sent.error.message
        return error(HTTP_STATUS.get(sent.error.status, 400), description, retry_headers(sent.error))
    channel_id, created_at = Message.objects.filter(pk=sent.message_id).values_list("channel_id", "created_at").get()
    body = {"id": sent.message_id, "appid": channel_id, "message": sent.request.message, "title": sent.request.title,
            "priority": parsed["priority"] if parsed["priority"] is not None else 5,
            "date": created_at.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")}
    if parsed["extras"] is not None:
        body["extras"] = parsed["extras"]
    return JsonAnswer(body)
