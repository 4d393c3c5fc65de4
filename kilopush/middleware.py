import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import HttpResponse

from kilopush.errors import envelope

SEND_PATH = "/v1/messages/send"
# The app API's channel create and update take a logo (multipart/form-data).
LOGO_UPLOAD_PATH = re.compile(r"^/v1/app/channels(/[^/]+)?/?$")
# A hook may carry an image like the send API (multipart); an ntfy PUT's body may be the image itself.
HOOK_PATH = re.compile(r"^/v1/hooks/[^/]+$")
NTFY_TOPIC_PATH = re.compile(r"^/k_[0-9a-f]{40}$")


@dataclass(frozen=True)
class BodyLimit:
    """The largest body a request may carry, and how a larger one is answered (on /v1/: the envelope)."""

    bytes: int
    status: int = 4000
    message: str = ""
    http_status: int = 400


def body_limit(path, method, content_type):
    """Every path's body cap, decided from the request head before any of the body is read.

    The web worker (kilopush/gunicorn_worker.py) refuses a larger body without reading it,
    chunked ones included; BodySizeLimitMiddleware applies the same caps under any server.
    """
    api_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    multipart = (content_type or "").lower().startswith("multipart/")
    if multipart and method in ("POST", "PATCH", "PUT") and LOGO_UPLOAD_PATH.match(path):
        mb = settings.LOGO_MAX_BYTES // (1024 * 1024)
        return BodyLimit(settings.LOGO_MAX_BYTES + api_limit, 4005, f"logo must be at most {mb} MB")
    if (multipart and method == "POST" and (path == SEND_PATH or HOOK_PATH.match(path))) or (
            method == "PUT" and NTFY_TOPIC_PATH.match(path)):
        # A send may carry an image (messaging/send/request.py): a larger body must hold it, checked once read.
        mb = settings.ATTACHMENT_MAX_BYTES / (1024 * 1024)
        return BodyLimit(settings.ATTACHMENT_MAX_BYTES + api_limit, 4005, f"attachment must be at most {mb:g} MB")
    # The API, the admin (no file fields) and every other page.
    return BodyLimit(api_limit, 4000, f"Request body too large (at most {api_limit} bytes)")


def _too_large(path, limit):
    if path.startswith("/v1/"):
        return envelope(limit.status, limit.message, limit.http_status)
    return HttpResponse(limit.message, status=413, content_type="text/plain; charset=utf-8")


class BodySizeLimitMiddleware:
    """Refuses bodies over their path's cap (body_limit) before anything reads them.

    Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when request.body is read, and not on
    files, while DRF's parsers read the stream directly. A chunked body has no Content-Length:
    a server that de-chunks it without setting one (gunicorn's own workers, ASGI servers) would
    leave Django reading nothing, so such a body is read here, up to its cap, and given a length.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = body_limit(request.path, request.method, request.META.get("CONTENT_TYPE"))
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                if request.path.startswith("/v1/"):
                    return envelope(4000, "Invalid Content-Length", 400)
                return HttpResponse("Invalid Content-Length", status=400, content_type="text/plain")
            if length > limit.bytes:
                return _too_large(request.path, limit)
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            source = request.META["wsgi.input"] if isinstance(request, WSGIRequest) else request._stream
            body = source.read(limit.bytes + 1)
            if len(body) > limit.bytes:
                return _too_large(request.path, limit)
            request._stream = LimitedStream(io.BytesIO(body), len(body))
            request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)
