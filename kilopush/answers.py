"""JSON answers: the one rule for every JSON body the API renders (the send API's envelope, the app API's DRF
answers, errors, the integrations' answers). Each ends with a newline, so `curl` output does not run into the
prompt; JSON parsers ignore it."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse
from rest_framework import renderers

NEWLINE = b"\n"


def json_bytes(data):
    """The body of an answer written without Django (kilopush/asgi.py, kilopush/gunicorn_worker.py)."""
    return json.dumps(data).encode() + NEWLINE


class JsonAnswer(JsonResponse):
    """Django's JsonResponse, ending with a newline.

    Its body is written once (JsonResponse's, then again with the newline, cost a send a copy), and with
    json's shared encoder when the data holds only JSON's own types: the same bytes DjangoJSONEncoder writes.
    """

    def __init__(self, data, encoder=DjangoJSONEncoder, safe=True, json_dumps_params=None, **kwargs):
        if safe and not isinstance(data, dict):
            raise TypeError("In order to allow non-dict objects to be serialized set the safe parameter to False.")
        params = json_dumps_params or {}
        try:
            if encoder is not DjangoJSONEncoder:
                raise TypeError  # a caller's own encoder is always used
            body = json.dumps(data, **params)
        except TypeError:  # a date, a Decimal, a UUID, a lazy string: Django's encoder writes them
            body = json.dumps(data, cls=encoder, **params)
        kwargs.setdefault("content_type", "application/json")
        HttpResponse.__init__(self, body.encode() + NEWLINE, **kwargs)


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer (REST_FRAMEWORK's DEFAULT_RENDERER_CLASSES), ending with a newline; an empty body
    (204) stays empty."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        body = super().render(data, accepted_media_type, renderer_context)
        return body + NEWLINE if body else body
