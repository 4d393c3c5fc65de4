"""URLs of the send API and of the app API's inbox (included from kilopush/urls.py)."""

from django.urls import path

from . import api
from .send_api import send_message

urlpatterns = [
    path("v1/messages/send", send_message, name="send-message"),
    path("v1/app/messages", api.InboxView.as_view(), name="app-messages"),
    path("v1/app/messages/read", api.MessagesReadView.as_view(), name="app-messages-read"),
    path("v1/app/messages/<int:message_id>", api.MessageView.as_view(), name="app-message"),
    path("v1/app/messages/<int:message_id>/read", api.MessageReadView.as_view(), name="app-message-read"),
]
