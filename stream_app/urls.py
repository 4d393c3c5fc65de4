"""URL of the live stream (included from wiring/urls.py); the `stream` process serves it."""

from django.urls import path

from . import api

urlpatterns = [
    path("v1/app/stream", api.stream, name="app-stream"),
]
