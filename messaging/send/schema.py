"""OpenAPI description of POST /v1/messages/send, added to drf-spectacular's schema.

The send API is a plain Django view (its published contract predates the app API),
so drf-spectacular cannot inspect it; this hand-written path item describes it
as docs/send-api.md does, without touching the view.
"""

import json

from kilopush.errors import describe_codes

from ..markdown import FORMATS
from .guards import URL_PATTERN
from .request import FIELDS, MAX_ID, MAX_KEY, TTL_MAX, TTL_MIN

# The codes the send API answers with HTTP 400 (their meanings: kilopush.errors.CODES).
SEND_ERROR_CODES = (4000, 4003, 4005, 4009, 4023, 4024, 4029)
# Status and withdraw: {token, secret, id}; another channel's message answers 4003 like a wrong secret.
MESSAGE_ERROR_CODES = (4000, 4003, 4005, 4029)

PATH = "/v1/messages/send"

_FLAG_JSON = {
    "oneOf": [
        {"type": "integer", "enum": [0, 1]},
        {"type": "boolean"},
        {"type": "string", "enum": ["", "0", "1"]},
    ]
}
_FLAG_FORM = {"type": "string", "enum": ["", "0", "1"]}


# What send_request.validate accepts: required strings are non-empty without NUL; a url is
# empty or http(s):// with a host (messaging.send.guards.URL_PATTERN: a DNS name or IPv4 address,
# an optional port) and no white space or control characters.
_NO_NUL = "^[^\\u0000]*$"
_URL = URL_PATTERN
_ONE_LINE = "^[^\\u0000\\r\\n\\u000b\\u000c\\u001c-\\u001e\\u0085\\u2028\\u2029]*$"


# 60..2419200 written out as decimal strings (no sign, no leading zero), as send_request._ttl reads forms.
_TTL_FORM = (
    "^$|^([6-9][0-9]|[1-9][0-9]{2,5}|1[0-9]{6}|2[0-3][0-9]{5}|240[0-9]{4}|241[0-8][0-9]{3}|2419[01][0-9]{2}|2419200)$"
)
_ID_STRING = {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}
ID_SCHEMA = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_ID}, _ID_STRING]}
KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY, "pattern": "^[\\u0020-\\u007e]*$"}


_LABEL = {"type": "string", "minLength": 1, "maxLength": 40, "pattern": _ONE_LINE}
_ACTION = {"oneOf": [
    {"type": "object", "required": ["type", "label", "url"], "additionalProperties": False,
     "properties": {"type": {"enum": ["view"]}, "label": _LABEL, "url": {"type": "string", "minLength": 1, "maxLength": 1000,
                                                                         "pattern": _URL}}},
    {"type": "object", "required": ["type", "label", "id"], "additionalProperties": False,
     "properties": {"type": {"enum": ["callback"]}, "label": _LABEL, "id": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"}}},
]}

# A realistic example of each field: without them Swagger UI makes up text from each pattern ("M.v(XtVLu()…").
EXAMPLES = {
    "to": "u_5f0c3a9e2b7d41e8a6c94d1f0b3e7a2c8d5f6e1b",
    "token": "c_9a4e1d7c3b8f20e6a5d19c4b7e2f8a0d3c6b1e5f",
    "secret": "3c8e1f5a9d2b7c4e0f6a1d8b3e9c5a7f2d4b6e8c0a1f3d5b7e9c2a4f6d8b0e1c",
    "message": "Door bell",
    "title": "Front door",
    "url": "https://homeassistant.local:8123/lovelace/doorbell",
    "format": "markdown",
    "attachment_url": "https://cam.example.com/snapshots/front-door.jpg",
    "important": 1,
    "silent": 0,
    "priority": 1,
    "retry": 60,
    "expire": 3600,
    "actions": [{"type": "view", "label": "Open camera", "url": "https://homeassistant.local:8123/lovelace/camera"},
                {"type": "callback", "label": "Open the door", "id": "open-door"}],
    "ttl": 3600,
    "replace": "1042",
    "idempotency_key": "doorbell-2026-12-06T18:30:00Z",
    "at": "2026-12-24T18:00:00Z",
}
_FORM_EXAMPLES = {"important": "1", "silent": "0", "ttl": "3600", "priority": "1", "retry": "60", "expire": "3600",
                  "actions": json.dumps(EXAMPLES["actions"])}
# The body Swagger UI's "Try it out" starts from: the four required fields and a title.
_REQUEST_EXAMPLE = {name: EXAMPLES[name] for name in ("to", "token", "secret", "message", "title")}


def _field(field, flag):
    """The JSON schema of one send_request.FIELDS entry."""
    form = flag is _FLAG_FORM
    if field.kind == "required":
        schema = {"type": "string", "minLength": 1, "pattern": _NO_NUL}
    elif field.kind == "title":
        schema = {"type": "string", "pattern": _ONE_LINE}
    elif field.kind == "url":
        schema = {"type": "string", "pattern": _URL}
    elif field.kind == "https":
        schema = {"type": "string", "pattern": "^$|^[Hh][Tt][Tt][Pp][Ss]://" + _URL.split("://", 1)[1]}
    elif field.kind == "format":
        schema = {"type": "string", "enum": ["", *FORMATS]}  # "" is the default, text
    elif field.kind == "ttl":
        schema = {"type": "string", "pattern": _TTL_FORM} if form else {"type": "integer", "minimum": TTL_MIN, "maximum": TTL_MAX}
    elif field.kind == "id":
        schema = {"type": "string", "pattern": "^$|^[1-9][0-9]{0,17}$"} if form else dict(ID_SCHEMA)
    elif field.kind == "priority":
        strings = {"type": "string", "enum": ["", "-2", "-1", "0", "1", "2"]}
        schema = strings if form else {"oneOf": [{"type": "integer", "minimum": -2, "maximum": 2}, strings]}
    elif field.kind == "seconds":
        schema = {"type": "string", "pattern": "^$|^[1-9][0-9]{0,17}$"} if form else {
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^$|^[1-9][0-9]{0,17}$"}]}
    elif field.kind == "actions":
        # In a form, the array as a JSON string (which a JSON schema cannot check).
        schema = {"type": "string"} if form else {
            "type": "array", "maxItems": 3, "items": _ACTION}
    elif field.kind == "at":
        # A Unix time in seconds, or ISO 8601 with a zone; its range (now to 30 days) the schema leaves to the answer.
        unix_or_iso = {"type": "string", "pattern": "^$|^[0-9]{1,12}$|^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[T ].*(Z|[+-][0-9:]{2,8})$"}
        schema = unix_or_iso if form else {"oneOf": [{"type": "integer", "minimum": 0}, unix_or_iso]}
    elif field.kind == "key":
        schema = {k: v for k, v in KEY_SCHEMA.items() if k != "maxLength"}
    else:
        schema = dict(flag)
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    example = _FORM_EXAMPLES.get(field.name, EXAMPLES[field.name]) if form else EXAMPLES[field.name]
    return {**schema, "description": field.description, "example": example}


def _fields(flag):
    return {field.name: _field(field, flag) for field in FIELDS}


def _required_names():
    return [field.name for field in FIELDS if field.kind == "required"]


def _not_both(on):
    # important=1 with silent=1 is refused (4005).
    return {"required": ["important", "silent"], "properties": {"important": {"enum": on}, "silent": {"enum": on}}}


def _priority_disagrees(on, off, json):
    """Issue 24: a priority other than important=1's 1, or important=0's and silent=1's -2, is refused (4005)."""
    def other_than(priority):
        values = [p for p in range(-2, 3) if p != priority]
        return [*(values if json else []), *(str(p) for p in values)]

    def both(flag, values, priority):
        return {"not": {"required": [flag, "priority"],
                        "properties": {flag: {"enum": values}, "priority": {"enum": other_than(priority)}}}}

    # Priority 2 needs retry and expire; their bounds (EMERGENCY_MIN_RETRY, 10800) the schema leaves to the answer.
    emergency = {"not": {"required": ["priority"], "properties": {"priority": {"enum": [2, "2"] if json else ["2"]}}}}
    return [both("important", on, 1), both("important", off, -2), both("silent", on, -2), emergency]


SEND_REQUEST = {
    "type": "object",
    "description": "Unknown fields are ignored.",
    "properties": _fields(_FLAG_JSON),
    "required": _required_names(),
    "not": _not_both([1, True, "1"]),
    "example": _REQUEST_EXAMPLE,
    "allOf": _priority_disagrees([1, True, "1"], [0, False, "0"], json=True),
}
SEND_REQUEST_FORM = {**SEND_REQUEST, "properties": _fields(_FLAG_FORM), "not": _not_both(["1"]),
                     "allOf": _priority_disagrees(["1"], ["0"], json=False)}

SEND_ACCEPTED = {
    "type": "object",
    "properties": {
        "response": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "enum": [200]},
                "id": {"type": "string", "description": "The message id", "example": "1042"},
            },
            "required": ["status", "id"],
        }
    },
    "required": ["response"],
}

ERROR_ENVELOPE = {
    "type": "object",
    "properties": {
        "response": {
            "type": "object",
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
            "required": ["status", "message"],
        }
    },
    "required": ["response"],
}

_RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Daily limit (unverified channels only)"},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Messages left today"},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Unix time of the next UTC midnight"},
}


def _error(description):
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": KEY_SCHEMA,
    "example": EXAMPLES["idempotency_key"],
    "description": "A repeat of an accepted send of this channel with the same key within 24 h answers its id "
    "and stores nothing; the same key with another to, message, url or important is 4009. "
    "The idempotency_key field does the same for clients that cannot set headers.",
}

def _request_body(schema):
    """The body every sender endpoint takes: JSON (`schema`), or a form or multipart (`schema`Form)."""
    ref = "#/components/schemas/" + schema
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": ref}},
            "application/x-www-form-urlencoded": {"schema": {"$ref": ref + "Form"}},
            "multipart/form-data": {"schema": {"$ref": ref + "Form"}},
        },
    }


SEND_OPERATION = {
    "operationId": "messages_send",
    "summary": "Send a message to a User Token",
    "description": "The published send API. Body: JSON, an HTML form or multipart/form-data "
    "(a charset parameter is allowed). Every error is answered with HTTP 400 and the envelope's status.",
    "tags": ["messages"],
    "security": [],
    "parameters": [IDEMPOTENCY_HEADER],
    "requestBody": _request_body("SendRequest"),
    "responses": {
        "200": {
            "description": "Accepted: committed, delivery queued",
            "headers": _RATE_HEADERS,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SendAccepted"}}},
        },
        "400": _error(describe_codes(*SEND_ERROR_CODES)),
        "405": _error("4005: use POST"),
        "500": _error("Unexpected failure"),
    },
}


# --- POST /v1/messages/status and /v1/messages/withdraw: {token, secret, id} ---

STATUS_PATH = "/v1/messages/status"
WITHDRAW_PATH = "/v1/messages/withdraw"
_CREDENTIALS = {
    "token": {"type": "string", "minLength": 1, "pattern": _NO_NUL, "description": "The Channel Token (c_…)",
              "example": EXAMPLES["token"]},
    "secret": {"type": "string", "minLength": 1, "pattern": _NO_NUL, "description": "The Channel Secret Key",
               "example": EXAMPLES["secret"]},
}
MESSAGE_REQUEST = {
    "type": "object",
    "description": "Unknown fields are ignored.",
    "properties": {**_CREDENTIALS, "id": {**ID_SCHEMA, "description": "The id the send answer gave (string or integer)",
                                         "example": "1042"}},
    "required": ["token", "secret", "id"],
}
MESSAGE_REQUEST_FORM = {
    **MESSAGE_REQUEST,
    "properties": {**_CREDENTIALS, "id": {**_ID_STRING, "description": "The id the send answer gave", "example": "1042"}},
}
_WHEN = {"type": "string", "format": "date-time", "nullable": True}
MESSAGE_STATUS = {
    "type": "object",
    "properties": {
        "response": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "enum": [200]},
                "message": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "state": {
                            "type": "string",
                            "enum": ["scheduled", "queued", "pushed", "read", "failed", "inbox_only", "expired",
                                     "withdrawn"],
                        },
                        "created_at": {"type": "string", "format": "date-time"},
                        "pushed_at": {**_WHEN, "description": "When a provider first accepted a push"},
                        "read_at": {**_WHEN, "description": "null unless read and the recipient allows read receipts"},
                        "acknowledged": {"type": "boolean", "description": "The recipient acknowledged it (issue 24)"},
                        "acknowledged_at": {**_WHEN, "description": "Shown whatever the recipient's read receipts"},
                        "expires_at": {**_WHEN, "description": "An emergency's end of repeats, else the ttl's end"},
                        "at": {**_WHEN, "description": "A scheduled message's delivery time (only for sends with at)"},
                        "devices": {
                            "type": "object",
                            "properties": {
                                "queued": {"type": "integer", "minimum": 0},
                                "pushed": {"type": "integer", "minimum": 0},
                                "failed": {"type": "integer", "minimum": 0},
                            },
                            "required": ["queued", "pushed", "failed"],
                        },
                    },
                    "required": ["id", "state", "created_at", "pushed_at", "read_at", "devices"],
                },
            },
            "required": ["status", "message"],
        }
    },
    "required": ["response"],
}


def _message_operation(operation_id, summary, description, ok_description, ok_schema):
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description + " Body: JSON, an HTML form or multipart/form-data. Every error is "
        "answered with HTTP 400 and the envelope's status.",
        "tags": ["messages"],
        "security": [],
        "requestBody": _request_body("MessageRequest"),
        "responses": {
            "200": {"description": ok_description, "content": {"application/json": {"schema": ok_schema}}},
            "400": _error(describe_codes(*MESSAGE_ERROR_CODES)),
            "405": _error("4005: use POST"),
            "500": _error("Unexpected failure"),
        },
    }


STATUS_OPERATION = _message_operation(
    "messages_status",
    "What became of a message",
    "Its state (scheduled, queued, pushed, read, failed, inbox_only, expired, withdrawn) and its deliveries.",
    "The message's status",
    {"$ref": "#/components/schemas/MessageStatus"},
)
WITHDRAW_OPERATION = _message_operation(
    "messages_withdraw",
    "Take a message back",
    "It leaves the inbox, its queued pushes are cancelled, and devices that showed it get a withdraw push "
    '({"type": "withdraw", "message_id"}). Idempotent.',
    "Withdrawn",
    {"$ref": "#/components/schemas/SendAccepted"},
)


def add_send_api(result, generator, request, public):
    """drf-spectacular postprocessing hook: adds the send API's path and components."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorEnvelope", ERROR_ENVELOPE)
    schemas["SendRequest"] = SEND_REQUEST
    schemas["SendRequestForm"] = SEND_REQUEST_FORM
    schemas["SendAccepted"] = SEND_ACCEPTED
    schemas["MessageRequest"] = MESSAGE_REQUEST
    schemas["MessageRequestForm"] = MESSAGE_REQUEST_FORM
    schemas["MessageStatus"] = MESSAGE_STATUS
    # The send API first: its paths lead, and its tag heads the tags Swagger UI lists in order.
    send_paths = {PATH: {"post": SEND_OPERATION}, STATUS_PATH: {"post": STATUS_OPERATION},
                  WITHDRAW_PATH: {"post": WITHDRAW_OPERATION}}
    result["paths"] = {**send_paths, **{path: item for path, item in result.get("paths", {}).items()
                                        if path not in send_paths}}
    tags = [{"name": "messages", "description": "The send API: send a message, its status, withdraw it"}]
    result["tags"] = tags + [tag for tag in result.get("tags", []) if tag.get("name") != "messages"]
    return result
