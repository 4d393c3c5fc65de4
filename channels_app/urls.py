"""URLs of the app API's My channels and blacklist, and of the logo files (included from wiring/urls.py)."""

import re

from django.conf import settings
from django.urls import path, re_path

from . import api

MEDIA_PREFIX = re.escape(settings.MEDIA_URL.strip("/"))

urlpatterns = [
    path("v1/app/channels", api.ChannelsView.as_view(), name="app-channels"),
    path("v1/app/channels/<str:token>", api.ChannelView.as_view(), name="app-channel"),
    path("v1/app/channels/<str:token>/keys", api.SendKeysView.as_view(), name="app-channel-keys"),
    path("v1/app/channels/<str:token>/keys/<int:key_id>", api.SendKeyView.as_view(), name="app-channel-key"),
    path("v1/app/channels/<str:token>/rotate-secret", api.RotateSecretView.as_view(), name="app-channel-rotate"),
    path("v1/app/channels/<str:token>/rotate-webhook-secret", api.RotateWebhookSecretView.as_view(),
         name="app-channel-rotate-webhook-secret"),
    path("v1/app/blocked", api.BlockedView.as_view(), name="app-blocked"),
    path("v1/app/blocked/<str:token>", api.BlockedChannelView.as_view(), name="app-blocked-channel"),
    # Served by the platform itself, DEBUG off included; a CDN may sit in front.
    re_path(rf"^{MEDIA_PREFIX}/(?P<name>logos/[0-9a-f]{{32}}\.png)$", api.logo_file, name="channel-logo"),
]
