"""Where the live stream is, as GET /v1/app/config tells clients (issue 12)."""

from django.conf import settings


def stream_url(request):
    """The stream's absolute URL: SITE_URL's host, or the page's own host, on STREAM_PORT (default PORT + 1)."""
    port = getattr(settings, "STREAM_PORT", None) or settings.PORT + 1
    base = settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else rest.split("]", 1)[0] + "]"
    return f"{scheme}://{host}:{port}/v1/app/stream"
