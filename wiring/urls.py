"""The project's URLs (ROOT_URLCONF): each app's urls.py, the health check, the API schema and docs, the admin.

It imports every app, so it lives above them all (the top layer of pyproject.toml's import-linter contract).
"""

from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from kilopush.admin_login import admin_login
from kilopush.health import healthz
from kilopush.metrics import metrics_view
from integrations.ntfy.views import publish_json
from webapp.views import index as webapp_index


@csrf_exempt
def root(request):
    """/: POST and PUT are ntfy's JSON publishing (integrations/ntfy); every other method is the web app."""
    if request.method in ("POST", "PUT"):
        return publish_json(request)
    return webapp_index(request)


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # --- Send API and app API ---
    path("", include("stream_app.urls")),  # first: a stream keeps its URL resolution for hours
    path("", include("messaging.urls")),
    path("", include("users_app.urls")),
    path("", include("channels_app.urls")),
    path("", include("reports_app.urls")),
    path("v1/schema", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("docs/", RedirectView.as_view(pattern_name="docs", query_string=True)),
    # --- end App API ---
    # --- Admin ---
    path("admin/login/", admin_login, name="admin-login"),  # throttled; before admin.site.urls' own login/
    path("admin/", include("stats_app.urls")),
    path("admin/", admin.site.urls),
    # --- end Admin ---
    # --- Integrations: the hook URL, Gotify's POST /message, ntfy's POST /KEY (and POST /, in root) ---
    path("", include("integrations.urls")),
    # --- end Integrations ---
    # --- Web app ---
    path("", root, name="root"),
    path("", include("webapp.urls")),
    # --- end Web app ---
]
