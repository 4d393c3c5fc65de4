"""URLs of the send API and of the app API's inbox, account (/v1/app/me) and Web Push key (included from wiring/urls.py)."""

import re

from django.conf import settings
from django.urls import path, re_path

from . import api, attachments
from .send.views import send_message, status_message, withdraw_message

urlpatterns = [
    path("v1/messages/send", send_message, name="send-message"),
    path("v1/messages/status", status_message, name="message-status"),
    path("v1/messages/withdraw", withdraw_message, name="message-withdraw"),
    path("v1/app/me", api.MeView.as_view(), name="app-me"),
    path("v1/app/webpush", api.WebPushKeyView.as_view(), name="app-webpush"),
    path("v1/app/messages", api.InboxView.as_view(), name="app-messages"),
    path("v1/app/messages/read", api.MessagesReadView.as_view(), name="app-messages-read"),
    path("v1/app/messages/<int:message_id>", api.MessageView.as_view(), name="app-message"),
    path("v1/app/messages/<int:message_id>/read", api.MessageReadView.as_view(), name="app-message-read"),
    path("v1/app/messages/<int:message_id>/ack", api.MessageAckView.as_view(), name="app-message-ack"),
    path("v1/app/messages/<int:message_id>/actions/<str:action_id>", api.MessageActionView.as_view(),
         name="app-message-action"),
    # Attachment files, served like channel logos (DEBUG off included; a CDN may sit in front).
    re_path(rf"^{re.escape(settings.MEDIA_URL.strip('/'))}/(?P<name>{attachments.NAME_PATTERN})$", api.attachment_file,
            name="message-attachment"),
]
