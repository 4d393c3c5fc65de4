"""CORS (docs/send-api.md, "From a browser (CORS)").

The send API (every /v1/messages/... path) takes no cookie: its credential is the secret in
the body, so any origin may call it, as any client may from curl. The app API (/v1/app/...)
answers CORS only to the origins CORS_ALLOWED_ORIGINS lists. The live stream (its own process)
answers only the site's own origin (stream_origins). Nothing else (the admin included) ever answers CORS.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse

# Sender endpoints: body credentials, callable from any page. A prefix, so new ones are covered.
PUBLIC_PREFIXES = ("/v1/messages/",)
APP_PREFIX = "/v1/app/"
PREFLIGHT_MAX_AGE = "86400"  # browsers cap it lower (Chromium: 2 h)
EXPOSED = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"

PUBLIC_METHODS = "POST, OPTIONS"
PUBLIC_HEADERS = "Content-Type, Idempotency-Key, X-Requested-With"
APP_METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
APP_HEADERS = "Authorization, Content-Type, Idempotency-Key"


def stream_origins():
    """The origins the live stream answers: the site's own, SITE_URL's, or the web port's on loopback when unset."""
    if settings.SITE_URL:
        parts = urlsplit(settings.SITE_URL)
        return {f"{parts.scheme}://{parts.netloc}"}
    return {f"http://127.0.0.1:{settings.PORT}", f"http://localhost:{settings.PORT}"}


def is_public(path):
    return path.startswith(PUBLIC_PREFIXES)


def _app_origin_allowed(path, origin):
    return path.startswith(APP_PREFIX) and origin is not None and origin in settings.CORS_ALLOWED_ORIGINS


def cors_headers(path, origin):
    """The CORS headers of an answer (any status) to a request for `path` from `origin` (None: no Origin)."""
    if is_public(path):
        # Echoing the origin with credentials allowed serves XHR withCredentials too (where "*" is
        # refused); it is safe because no sender endpoint reads a cookie.
        if origin:
            allow = {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}
        else:
            allow = {"Access-Control-Allow-Origin": "*"}
        return {**allow, "Access-Control-Expose-Headers": EXPOSED, "Vary": "Origin"}
    if _app_origin_allowed(path, origin):
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED, "Vary": "Origin"}
    return {}


def _preflight_headers(path, origin):
    if is_public(path):
        return PUBLIC_METHODS, PUBLIC_HEADERS
    if _app_origin_allowed(path, origin):
        return APP_METHODS, APP_HEADERS
    return None


def _add_vary_origin(response):
    vary = [v.strip() for v in response.get("Vary", "").split(",") if v.strip()]
    if "origin" not in (v.lower() for v in vary):
        vary.append("Origin")
    response["Vary"] = ", ".join(vary)


class CorsMiddleware:
    """Answers preflights and adds CORS headers to every answer, errors and 500s included (outermost middleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        origin = request.headers.get("Origin")
        path = request.path
        if (
            request.method == "OPTIONS"
            and origin
            and "Access-Control-Request-Method" in request.headers
            and (allowed := _preflight_headers(path, origin))
        ):
            methods, headers = allowed
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = methods
            response["Access-Control-Allow-Headers"] = headers
            response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        else:
            response = self.get_response(request)
        headers = cors_headers(path, origin)
        for name, value in headers.items():
            if name == "Vary":
                _add_vary_origin(response)
            else:
                response[name] = value
        return response
