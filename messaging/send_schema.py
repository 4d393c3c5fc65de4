"""OpenAPI description of POST /v1/messages/send, added to drf-spectacular's schema.

The send API is a plain Django view (its published contract predates the app API),
so drf-spectacular cannot inspect it; this hand-written path item describes it
as the README does, without touching the view.
"""

from kilopush.errors import describe_codes

from .send_guards import URL_PATTERN
from .send_request import FIELDS

# The codes the send API answers with HTTP 400 (their meanings: kilopush.errors.CODES).
SEND_ERROR_CODES = (4000, 4003, 4005, 4023, 4024, 4029)

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
# empty or http(s):// with a host (messaging.send_guards.URL_PATTERN: a DNS name or IPv4 address,
# an optional port) and no white space or control characters.
_NO_NUL = "^[^\\u0000]*$"
_URL = URL_PATTERN


def _field(field, flag):
    """The JSON schema of one send_request.FIELDS entry."""
    if field.kind == "required":
        schema = {"type": "string", "minLength": 1, "pattern": _NO_NUL}
    elif field.kind == "url":
        schema = {"type": "string", "pattern": _URL}
    else:
        schema = dict(flag)
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    return {**schema, "description": field.description}


def _fields(flag):
    return {field.name: _field(field, flag) for field in FIELDS}


def _required_names():
    return [field.name for field in FIELDS if field.kind == "required"]


def _not_both(on):
    # important=1 with silent=1 is refused (4005).
    return {"required": ["important", "silent"], "properties": {"important": {"enum": on}, "silent": {"enum": on}}}


SEND_REQUEST = {
    "type": "object",
    "description": "Unknown fields are ignored.",
    "properties": _fields(_FLAG_JSON),
    "required": _required_names(),
    "not": _not_both([1, True, "1"]),
}
SEND_REQUEST_FORM = {**SEND_REQUEST, "properties": _fields(_FLAG_FORM), "not": _not_both(["1"])}

SEND_ACCEPTED = {
    "type": "object",
    "properties": {
        "response": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "enum": [200]},
                "id": {"type": "string", "description": "The message id"},
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


SEND_OPERATION = {
    "operationId": "messages_send",
    "summary": "Send a message to a User Token",
    "description": "The published send API. Body: JSON, an HTML form or multipart/form-data "
    "(a charset parameter is allowed). Every error is answered with HTTP 400 and the envelope's status.",
    "tags": ["messages"],
    "security": [],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SendRequest"}},
            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/SendRequestForm"}},
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/SendRequestForm"}},
        },
    },
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


def add_send_api(result, generator, request, public):
    """drf-spectacular postprocessing hook: adds the send API's path and components."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorEnvelope", ERROR_ENVELOPE)
    schemas["SendRequest"] = SEND_REQUEST
    schemas["SendRequestForm"] = SEND_REQUEST_FORM
    schemas["SendAccepted"] = SEND_ACCEPTED
    result.setdefault("paths", {})[PATH] = {"post": SEND_OPERATION}
    return result
