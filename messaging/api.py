"""The app API's inbox (a recipient's messages, newest first), the account (/v1/app/me) and the Web Push key."""

import json

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from channels_app.selectors import channel_count_of, channel_logo_url
from kilopush.drf import MAX_ID, IdField, QueryIntegerField, StrictBooleanField, error_responses, validated
from kilopush.errors import NotFound
from users_app import services as users_services
from users_app.auth import AppView

from . import attachments, emergency, markdown, selectors, services, vapid, webhooks


class InboxQuerySerializer(serializers.Serializer):
    after = QueryIntegerField(min_value=0, max_value=MAX_ID, required=False, help_text="Only ids above this")
    before = QueryIntegerField(min_value=0, max_value=MAX_ID, required=False, help_text="Only ids below this")
    limit = QueryIntegerField(min_value=1, max_value=100, default=50, help_text="1–100")


class InboxChannelSerializer(serializers.Serializer):
    token = serializers.CharField()
    name = serializers.CharField()
    logo_url = serializers.SerializerMethodField()
    verified = serializers.BooleanField(source="is_verified")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_logo_url(self, channel):
        return channel_logo_url(channel, self.context.get("request"))


class AttachmentSerializer(serializers.Serializer):
    url = serializers.URLField(
        help_text="Absolute; an upload's name is random, and it answers 404 once the message is gone")
    content_type = serializers.CharField(
        allow_null=True, help_text="image/jpeg, image/png or image/webp; null for a link")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField(allow_null=True, help_text="Bytes")


class InboxMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = InboxChannelSerializer()
    title = serializers.SerializerMethodField()
    message = serializers.CharField(source="text")
    url = serializers.SerializerMethodField()
    important = serializers.BooleanField(
        allow_null=True, help_text="null: normal alert; true: time-sensitive; false: silent, inbox only"
    )
    priority = serializers.IntegerField(
        help_text="-2 inbox only, -1 quiet, 0 normal, 1 high, 2 emergency (until acknowledged)"
    )
    acknowledged = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    read = serializers.SerializerMethodField()
    format = serializers.ChoiceField(choices=markdown.FORMATS, help_text="text, or markdown: then `html` is set")
    html = serializers.SerializerMethodField()
    attachment = serializers.SerializerMethodField()
    from_own_channel = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.CharField(
            allow_null=True,
            help_text="A markdown message rendered and sanitised (p, br, em, strong, code, pre, ul, ol, li, "
            "blockquote, and http(s)/mailto links with rel=\"noopener noreferrer\"); null for text. `message` stays as sent",
        )
    )
    def get_html(self, message):
        return markdown.to_html(message.text) if message.format == markdown.MARKDOWN and message.text else None

    @extend_schema_field(AttachmentSerializer(allow_null=True))
    def get_attachment(self, message):
        return attachments.attachment_of(message, self.context.get("request"))

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The sender's title; null when it sent none"))
    def get_title(self, message):
        return message.title or None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, message):
        return message.url or None

    @extend_schema_field(serializers.ListField(child=serializers.DictField(), help_text=(
        "The action buttons in order: {type: view, label, url} or {type: callback, label, id}")))
    def get_actions(self, message):
        return json.loads(message.actions) if message.actions else []

    @extend_schema_field(serializers.BooleanField(help_text="Acknowledged (POST /v1/app/messages/ID/ack)"))
    def get_acknowledged(self, message):
        return message.acknowledged_at is not None

    @extend_schema_field(serializers.BooleanField())
    def get_read(self, message):
        return message.read_at is not None

    @extend_schema_field(serializers.BooleanField(help_text="Sent by one of the recipient's own channels"))
    def get_from_own_channel(self, message):
        return message.channel.owner_id == message.recipient_id


class InboxSerializer(serializers.Serializer):
    messages = InboxMessageSerializer(many=True)


class ReadUpToSerializer(serializers.Serializer):
    up_to = IdField(help_text="Every message with an id up to this one is marked read")


def _message_id(message_id):
    if message_id > MAX_ID:
        raise NotFound("No such message")
    return message_id


class InboxView(AppView):
    @extend_schema(
        operation_id="app_messages_list",
        tags=["app: inbox"],
        summary="The inbox, newest first",
        parameters=[InboxQuerySerializer],
        responses={200: InboxSerializer, **error_responses(400, 401)},
    )
    def get(self, request):
        query = InboxQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = selectors.inbox_page(user=request.user, **query.validated_data)
        return Response(InboxSerializer({"messages": messages}, context={"request": request}).data)


class MessageView(AppView):
    @extend_schema(
        operation_id="app_messages_delete",
        tags=["app: inbox"],
        summary="Delete a message from the inbox",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, message_id):
        if not services.inbox_delete(user=request.user, message_id=_message_id(message_id)):
            raise NotFound("No such message")
        return Response(status=204)


class MessageReadView(AppView):
    @extend_schema(
        operation_id="app_messages_read",
        tags=["app: inbox"],
        summary="Mark a message read",
        request=None,
        responses={204: None, **error_responses(401, 404)},
    )
    def post(self, request, message_id):
        if not services.inbox_mark_read(user=request.user, message_id=_message_id(message_id)):
            raise NotFound("No such message")
        return Response(status=204)


class MessageAckView(AppView):
    @extend_schema(
        operation_id="app_messages_ack",
        tags=["app: inbox"],
        summary="Acknowledge a message: it is read, and an emergency's repeats stop (idempotent)",
        request=None,
        responses={204: None, **error_responses(401, 404)},
    )
    def post(self, request, message_id):
        if not emergency.message_acknowledge(user=request.user, message_id=_message_id(message_id)):
            raise NotFound("No such message")
        return Response(status=204)


class MessageActionView(AppView):
    @extend_schema(
        operation_id="app_messages_action",
        tags=["app: inbox"],
        summary="Press a callback action: the channel's webhook gets action.pressed",
        request=None,
        responses={202: None, **error_responses(401, 404)},
    )
    def post(self, request, message_id, action_id):
        if not webhooks.action_press(user=request.user, message_id=_message_id(message_id), action_id=action_id):
            raise NotFound("No such message or action")
        return Response(status=202)


class MessagesReadView(AppView):
    @extend_schema(
        operation_id="app_messages_read_up_to",
        tags=["app: inbox"],
        summary="Mark every message up to an id read",
        request=ReadUpToSerializer,
        responses={204: None, **error_responses(400, 401)},
    )
    def post(self, request):
        services.inbox_mark_read_up_to(user=request.user, up_to=validated(ReadUpToSerializer, request)["up_to"])
        return Response(status=204)


@require_safe
def attachment_file(request, name):
    """Serves a stored attachment (also with DEBUG off); 404 once its message is gone."""
    try:
        file = default_storage.open(name)
    except (FileNotFoundError, OSError):
        raise Http404("No such attachment") from None
    content_type = attachments.CONTENT_TYPES[name.rsplit(".", 1)[1]]
    response = FileResponse(file, content_type=content_type)
    # Private to the recipient's browser: the file goes when the message does, so no shared cache keeps it.
    response["Cache-Control"] = f"private, max-age={settings.LOGO_CACHE_SECONDS}"
    # Opened in a tab, the browser's image viewer styles its own page: that much, and nothing else, is allowed.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- GET/PATCH/DELETE /v1/app/me: the account with its inbox's unread count, so it sits above users_app ---


class MeSerializer(serializers.Serializer):
    user_token = serializers.CharField(source="token")
    created_at = serializers.DateTimeField()
    channels = serializers.IntegerField(help_text="How many channels the user owns")
    unread = serializers.IntegerField(help_text="How many messages in the inbox are unread")
    read_receipts = serializers.BooleanField(help_text="Senders see when you read their messages (default true)")


class MeUpdateSerializer(serializers.Serializer):
    read_receipts = StrictBooleanField(
        required=False, help_text="false: senders never see that or when you read their messages"
    )


def _me(user):
    me = {"token": user.token, "created_at": user.created_at, "read_receipts": user.read_receipts}
    me.update(channels=channel_count_of(user), unread=selectors.unread_count(user))
    return MeSerializer(me).data


class MeView(AppView):
    @extend_schema(
        operation_id="app_me",
        tags=["app: account"],
        summary="The account",
        responses={200: MeSerializer, **error_responses(401)},
    )
    def get(self, request):
        return Response(_me(request.user))

    @extend_schema(
        operation_id="app_me_update",
        tags=["app: account"],
        summary="Change the account's settings (read receipts)",
        request=MeUpdateSerializer,
        responses={200: MeSerializer, **error_responses(400, 401)},
    )
    def patch(self, request):
        data = validated(MeUpdateSerializer, request)
        if "read_receipts" in data:
            users_services.app_user_set_read_receipts(user=request.user, enabled=data["read_receipts"])
        return Response(_me(request.user))

    @extend_schema(
        operation_id="app_me_delete",
        tags=["app: account"],
        summary="Delete the account with its devices, channels, messages and blacklist",
        responses={204: None, **error_responses(401)},
    )
    def delete(self, request):
        users_services.app_user_delete(user=request.user)
        return Response(status=204)


# --- GET /v1/app/webpush: the VAPID key is messaging's (vapid.py) ---


class WebPushKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The VAPID public key (base64url, 65-byte uncompressed P-256 point): PushManager.subscribe's "
                  "applicationServerKey"
    )


class WebPushKeyView(AppView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="app_webpush_key",
        tags=["app: devices"],
        summary="The server's VAPID public key, for PushManager.subscribe",
        responses={200: WebPushKeySerializer},
    )
    def get(self, request):
        return Response(WebPushKeySerializer({"public_key": vapid.application_server_key()}).data)
