"""A hook body (POST /v1/hooks/KEY) as the send API's fields: plain text, a form or JSON with the send API's
fields, a Prometheus Alertmanager or a Grafana alerting webhook, or any other body as the message itself."""

from urllib.parse import parse_qsl

from kilopush.errors import InvalidValue
from messaging.send import guards as send_guards, request as send_request
from messaging.send.request import FORM, JSON, MULTIPART

from ..sending import shorten_text, shorten_title

SEVERE = ("critical", "page")  # Alertmanager severities that make a firing alert important


def fields(request):
    """The send fields of a hook request (validated later by send_request.validate); 4000/4005 if undecodable."""
    media_type, charset = send_request.split_content_type(request.META.get("CONTENT_TYPE"))
    if media_type == MULTIPART:
        return api_fields(send_request.decode_body(request))
    text = send_guards.decode_text(request.body, charset)
    if media_type == JSON:
        data = send_guards.loads_json(text)
        if isinstance(data, dict):
            if "orgId" in data and ("title" in data or "message" in data):
                return grafana_fields(data)
            if isinstance(data.get("alerts"), list) and "version" in data:
                return alertmanager_fields(data)
            if "message" in data:
                return api_fields(data)
    elif media_type == FORM and "message" in _form_names(text, charset):
        return api_fields(send_request.decode_body(request))
    # text/plain, `curl -d "Backup done at 03:00 & ok"` (a form body without a message field), anything else.
    return {"message": shorten_text(text.strip())}


def _form_names(text, charset):
    try:
        return {name for name, _ in parse_qsl(text, keep_blank_values=True, encoding=send_guards.text_codec(charset))}
    except (UnicodeError, ValueError, LookupError):
        return set()


def api_fields(data):
    """The send API's fields (the credentials are ignored: the key stands for them), text and title shortened."""
    data = type(data)(data)  # a FormFields stays one (its ttl is a decimal string)
    for name, shorten in (("message", shorten_text), ("title", shorten_title)):
        if name in data:
            data[name] = shorten(data[name])
    return data


def _text(value):
    return value.strip() if isinstance(value, str) else ""


def _dict(value):
    return value if isinstance(value, dict) else {}


def _url(*candidates):
    """The first candidate that is an http(s) URL the send API takes; a tool's bad URL is dropped, not a 4005."""
    for value in candidates:
        if isinstance(value, str) and value and len(value) <= send_request.MAX_TEXT \
                and not send_guards.url_problem(value):
            return value
    return ""


def alertmanager_fields(data):
    """Alertmanager's webhook (version 4): one message for the group, one line per alert."""
    alerts = [_dict(alert) for alert in data["alerts"]]
    firing = [alert for alert in alerts if alert.get("status") == "firing"]
    name = (_text(_dict(data.get("commonLabels")).get("alertname")) or _text(_dict(data.get("groupLabels")).get("alertname"))
            or next((_text(_dict(a.get("labels")).get("alertname")) for a in alerts if _dict(a.get("labels")).get("alertname")), "")
            or "alert")
    if data.get("status") == "resolved" or not firing:
        title = f"[RESOLVED] {name}"
    else:
        title = f"[FIRING:{len(firing)}] {name}"
    lines = []
    for alert in alerts:
        annotations, labels = _dict(alert.get("annotations")), _dict(alert.get("labels"))
        line = _text(annotations.get("summary")) or _text(annotations.get("description")) or _text(labels.get("alertname"))
        if line:
            lines.append(" ".join(line.split()))  # one line per alert
    severe = any(_text(_dict(alert.get("labels")).get("severity")).lower() in SEVERE for alert in firing)
    first = alerts[0] if alerts else {}
    return {
        "message": shorten_text("\n".join(lines) or title),
        "title": shorten_title(title),
        "url": _url(first.get("generatorURL"), data.get("externalURL")),
        "important": True if firing and severe else None,
    }


def grafana_fields(data):
    """Grafana's unified-alerting webhook: its title and message (and, like Alertmanager's, a url and importance)."""
    if not isinstance(data.get("title", ""), str) or not isinstance(data.get("message", ""), str):
        raise InvalidValue("title and message must be strings")
    alerts = [_dict(alert) for alert in data.get("alerts")] if isinstance(data.get("alerts"), list) else []
    firing = [alert for alert in alerts if alert.get("status") == "firing"]
    severe = any(_text(_dict(alert.get("labels")).get("severity")).lower() in SEVERE for alert in firing)
    title = shorten_title(_text(data.get("title")))
    first = alerts[0] if alerts else {}
    return {
        "message": shorten_text(_text(data.get("message")) or title),
        "title": title,
        "url": _url(first.get("generatorURL"), data.get("externalURL")),
        "important": True if firing and severe else None,
    }
