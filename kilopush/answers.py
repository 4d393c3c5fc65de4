"""JSON answers: the one rule for every JSON body the API renders (the send API's envelope, the app API's DRF
answers, errors, the integrations' answers). Each ends with a newline, so `curl` output does not run into the
prompt; JSON parsers ignore it."""

import json

from django.http import JsonResponse
from rest_framework import renderers

NEWLINE = b"\n"


def json_bytes(data):
    """The body of an answer written without Django (kilopush/asgi.py, kilopush/gunicorn_worker.py)."""
    return json.dumps(data).encode() + NEWLINE


class JsonAnswer(JsonResponse):
    """Django's JsonResponse, ending with a newline."""

    def __init__(self, data, **kwargs):
        super().__init__(data, **kwargs)
        self.content = self.content + NEWLINE


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer (REST_FRAMEWORK's DEFAULT_RENDERER_CLASSES), ending with a newline; an empty body
    (204) stays empty."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        body = super().render(data, accepted_media_type, renderer_context)
        return body + NEWLINE if body else body
