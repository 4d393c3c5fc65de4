"""GET /v1/app/stream: Server-Sent Events of the caller's inbox, served by the ASGI `stream` process;
GET /v1/app/config (on the web process): where clients find the stream and the Web Push key."""

import logging

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from kilopush.cors import stream_origins
from kilopush.errors import (
    ApiError, InvalidHeaders, InvalidValue, NotFound, envelope, error_response, internal_error_response,
)
from messaging.vapid import application_server_key
from users_app.auth import AppView, bearer_credential

from . import selectors
from .hub import hub

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1


def _cors_headers(request):
    origin = request.headers.get("Origin")
    if origin and origin in stream_origins():
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def _preflight(request, cors):
    if request.headers.get("Origin") and "Access-Control-Allow-Origin" not in cors:
        return envelope(4003, "Origin not allowed", 403)
    response = HttpResponse(status=204)
    response["Allow"] = "GET, OPTIONS"
    if "Access-Control-Allow-Origin" in cors:
        response["Access-Control-Allow-Methods"] = "GET"
        response["Access-Control-Allow-Headers"] = "Authorization, Last-Event-ID"
        response["Access-Control-Max-Age"] = "600"
    return response


def _after(request):
    """The id to replay after: the Last-Event-ID header (a reconnecting client), else ?after=, else None."""
    value = request.headers.get("Last-Event-ID")
    name = "Last-Event-ID"
    if value is None:
        values = request.GET.getlist("after")
        if len(values) > 1:
            raise InvalidValue("after: give it once")
        value, name = (values[0] if values else None), "after"
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or int(value) > MAX_ID:
        raise InvalidValue(f"{name}: a message id is expected")
    return int(value)


async def stream(request):
    try:
        request.get_host()  # the stream's logo URLs are built on it
    except DisallowedHost as exc:
        logger.warning("Stream refused: %s", exc)  # a client's mistake or a probe, not ours: no traceback
        return error_response(InvalidHeaders("Invalid Host header"))
    cors = _cors_headers(request)
    if request.method == "OPTIONS":
        response = _preflight(request, cors)
        for name, value in cors.items():
            response[name] = value
        return response
    try:
        if request.method != "GET":
            exc = ApiError("Method not allowed", headers={"Allow": "GET, OPTIONS"})
            exc.status, exc.http_status = 4005, 405
            raise exc
        if not isinstance(request, ASGIRequest):  # a stream must never hold a WSGI thread
            raise NotFound("The stream is served by the stream process (see STREAM_URL)")
        user = await hub().authenticate(bearer_credential(request.headers.get("Authorization", "")))
        opened = await hub().open(user, _after(request), request)
    except ApiError as exc:
        response = error_response(exc)
    except Exception:
        logger.exception("Stream failed to open")  # an envelope, never an HTML page
        response = internal_error_response()
    else:
        frames = opened.frames()
        response = StreamingHttpResponse(frames, content_type="text/event-stream; charset=utf-8")
        # The stream process sends the frames itself, without holding the request (kilopush/asgi.py).
        response.event_stream = (frames, opened.close)
        response["Cache-Control"] = "no-cache, no-store"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    for name, value in cors.items():
        response[name] = value
    return response


# --- GET /v1/app/config: where a client finds the stream (and the Web Push key) ---


class ConfigSerializer(serializers.Serializer):
    stream_url = serializers.CharField(help_text="Absolute URL of the live stream (GET, Authorization: Bearer)")
    webpush_public_key = serializers.CharField(help_text="The VAPID public key, as GET /v1/app/webpush gives it")


class ConfigView(AppView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="app_config",
        tags=["app: account"],
        summary="Where a client finds things: the live stream's URL and the Web Push key",
        responses={200: ConfigSerializer},
    )
    def get(self, request):
        config = {"stream_url": selectors.stream_url(request), "webpush_public_key": application_server_key()}
        return Response(ConfigSerializer(config).data)
