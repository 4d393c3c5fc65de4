"""URLs of the live stream (the `stream` process serves it) and of the config that points to it (included from
wiring/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("v1/app/stream", api.stream, name="app-stream"),
    path("v1/app/config", api.ConfigView.as_view(), name="app-config"),
]
