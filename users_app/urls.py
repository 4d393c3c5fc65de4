"""URLs of the app API's registration, link, session and device views (included from wiring/urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("v1/app/register", api.RegisterView.as_view(), name="app-register"),
    path("v1/app/link-codes", api.LinkCodesView.as_view(), name="app-link-codes"),
    path("v1/app/link", api.LinkView.as_view(), name="app-link"),
    path("v1/app/link/preview", api.LinkPreviewView.as_view(), name="app-link-preview"),
    path("v1/app/sessions", api.SessionsView.as_view(), name="app-sessions"),
    path("v1/app/sessions/current", api.CurrentSessionView.as_view(), name="app-session-current"),
    path("v1/app/sessions/<int:session_id>", api.SessionView.as_view(), name="app-session"),
    path("v1/app/device", api.DeviceView.as_view(), name="app-device"),
    path("v1/app/devices", api.DevicesView.as_view(), name="app-devices"),
    path("v1/app/devices/<int:device_id>", api.DeviceItemView.as_view(), name="app-devices-item"),
]
