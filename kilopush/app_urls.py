"""URLs of the app API, the API schema and docs, and the logo files (included from kilopush/urls.py)."""

import re

from django.conf import settings
from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from channels_app import api as channels_api
from messaging import inbox_api
from users_app import api as users_api

MEDIA_PREFIX = re.escape(settings.MEDIA_URL.strip("/"))

urlpatterns = [
    path("v1/app/register", users_api.RegisterView.as_view(), name="app-register"),
    path("v1/app/link-codes", users_api.LinkCodesView.as_view(), name="app-link-codes"),
    path("v1/app/link", users_api.LinkView.as_view(), name="app-link"),
    path("v1/app/me", users_api.MeView.as_view(), name="app-me"),
    path("v1/app/device", users_api.DeviceView.as_view(), name="app-device"),
    path("v1/app/messages", inbox_api.InboxView.as_view(), name="app-messages"),
    path("v1/app/messages/read", inbox_api.MessagesReadView.as_view(), name="app-messages-read"),
    path("v1/app/messages/<int:message_id>", inbox_api.MessageView.as_view(), name="app-message"),
    path("v1/app/messages/<int:message_id>/read", inbox_api.MessageReadView.as_view(), name="app-message-read"),
    path("v1/app/channels", channels_api.ChannelsView.as_view(), name="app-channels"),
    path("v1/app/channels/<str:token>", channels_api.ChannelView.as_view(), name="app-channel"),
    path(
        "v1/app/channels/<str:token>/rotate-secret", channels_api.RotateSecretView.as_view(), name="app-channel-rotate"
    ),
    path("v1/app/blocked", users_api.BlockedView.as_view(), name="app-blocked"),
    path("v1/app/blocked/<str:token>", users_api.BlockedChannelView.as_view(), name="app-blocked-channel"),
    path("v1/schema", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Served by the platform itself, DEBUG off included; a CDN may sit in front.
    re_path(rf"^{MEDIA_PREFIX}/(?P<name>logos/[0-9a-f]{{32}}\.png)$", channels_api.logo_file, name="channel-logo"),
]
