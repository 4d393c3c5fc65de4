"""The web app's pages: the shell at /, its service worker at /sw.js and its manifest.

Everything else the page does goes through the public /v1/... API.
"""

import functools
import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django.views.i18n import JavaScriptCatalog

STATIC_DIR = Path(__file__).resolve().parent / "static" / "webapp"
# What the service worker keeps for offline use besides "/": the shell, not the data.
SHELL_FILES = sorted(
    path.relative_to(STATIC_DIR).as_posix()
    for path in STATIC_DIR.rglob("*")
    if path.is_file() and path.suffix in (".js", ".mjs", ".css", ".png", ".svg") and path.name != "sw.js"
)


@functools.cache
def shell_version():
    """Changes whenever a file of the shell changes, so browsers install the new service worker."""
    digest = hashlib.sha256()
    for name in [*SHELL_FILES, "js/sw.js"]:
        digest.update(name.encode())
        digest.update((STATIC_DIR / name).read_bytes())
    digest.update((Path(__file__).resolve().parent / "templates" / "webapp" / "index.html").read_bytes())
    for catalog in sorted(Path(settings.LOCALE_PATHS[0]).glob("*/LC_MESSAGES/*.po")):  # a new translation too
        digest.update(catalog.as_posix().encode())
        digest.update(catalog.read_bytes())
    return digest.hexdigest()[:16]


def catalog_url(language):
    return reverse("webapp-catalog", args=[language])


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def stream_origin(request):
    """The origin of the live stream when it is served apart from the page (another port), else None."""
    from stream_app.selectors import stream_url

    origin = _origin(stream_url(request))
    return None if origin == _origin(request.build_absolute_uri("/")) else origin


def content_security_policy(request):
    connect = ["'self'"]
    images = ["'self'", "blob:", "data:"]
    extra = stream_origin(request)
    if extra:
        connect.append(extra)
    site = _origin(settings.SITE_URL) if settings.SITE_URL else None
    if site:  # logos are addressed through SITE_URL
        images.append(site)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            f"connect-src {' '.join(connect)}",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _secure_html(response, request):
    response["Content-Security-Policy"] = content_security_policy(request)
    response["X-Frame-Options"] = "DENY"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def index(request):
    language = translation.get_language()
    context = {
        "version": shell_version(),
        "catalog_url": catalog_url(language),
        "languages": [{"code": code, "name": name} for code, name in settings.LANGUAGES],
    }
    response = render(request, "webapp/index.html", context)
    return _secure_html(response, request)


class WebAppCatalog(JavaScriptCatalog):
    """The web app's strings (the djangojs catalogs under LOCALE_PATHS), for one language."""

    packages = ["webapp"]

    def get_paths(self, packages):
        return [str(path) for path in settings.LOCALE_PATHS]


@require_safe
def catalog(request, language):
    """/jsi18n/LANG/: the page's and the service worker's translations, addressed by language (cached offline)."""
    if language not in dict(settings.LANGUAGES):
        raise Http404
    with translation.override(language):
        response = WebAppCatalog.as_view()(request)
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def service_worker(request):
    # The worker speaks the page's language: the page registers /sw.js?lang=LANG with the language it was served
    # in (the kp_language cookie, else Accept-Language), so a switch of language is a new worker, which keeps the
    # shell afresh in that language.
    language = request.GET.get("lang", "")
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language()
    shell = ["/", catalog_url(language), *(static(f"webapp/{name}") for name in SHELL_FILES)]
    head = (
        f"const VERSION = {json.dumps(shell_version() + '-' + language)};\n"
        f"const LANGUAGE = {json.dumps(language)};\n"
        f"const SHELL = {json.dumps(shell)};\n"
        f"importScripts({json.dumps(catalog_url(language))});\n"
    )
    body = head + (STATIC_DIR / "js" / "sw.js").read_text()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Content-Security-Policy"] = "default-src 'self'"
    return response


@require_safe
def manifest(request):
    body = {
        "name": "KILO.Push",
        "short_name": "KILO.Push",
        "description": _("Your push inbox: messages from your channels, live and as notifications."),
        "lang": translation.get_language(),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#10151c",
        "theme_color": "#1f6feb",
        "icons": [
            {"src": static("webapp/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("webapp/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("webapp/icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = HttpResponse(json.dumps(body, indent=1), content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def favicon(request):
    response = HttpResponse((STATIC_DIR / "icons" / "icon-32.png").read_bytes(), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response
