"""The project's URLs: each app's urls.py, the health check, the API schema and docs, the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from kilopush.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # --- Send API and app API ---
    path("", include("stream_app.urls")),  # first: a stream keeps its URL resolution for hours
    path("", include("messaging.urls")),
    path("", include("users_app.urls")),
    path("", include("channels_app.urls")),
    path("v1/schema", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # --- end App API ---
    # --- Admin ---
    path("admin/", include("stats_app.urls")),
    path("admin/", admin.site.urls),
    # --- end Admin ---
    # --- Web app ---
    path("", include("webapp.urls")),
    # --- end Web app ---
]
