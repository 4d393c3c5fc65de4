"""URLs of the send API and of the app API's inbox (included from kilopush/urls.py)."""

from django.urls import path

from . import api
from .send_api import send_message, status_message, withdraw_message

urlpatterns = [
    path("v1/messages/send", send_message, name="send-message"),
    path("v1/messages/status", status_message, name="message-status"),
    path("v1/messages/withdraw", withdraw_message, name="message-withdraw"),
    path("v1/app/messages", api.InboxView.as_view(), name="app-messages"),
    path("v1/app/messages/read", api.MessagesReadView.as_view(), name="app-messages-read"),
    path("v1/app/messages/<int:message_id>", api.MessageView.as_view(), name="app-message"),
    path("v1/app/messages/<int:message_id>/read", api.MessageReadView.as_view(), name="app-message-read"),
    path("v1/app/messages/<int:message_id>/ack", api.MessageAckView.as_view(), name="app-message-ack"),
    path("v1/app/messages/<int:message_id>/actions/<str:action_id>", api.MessageActionView.as_view(),
         name="app-message-action"),
]
