"""The app API's My channels and blacklist, and the platform's own serving of channel logos."""

from django.conf import settings
from django.db import transaction
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.utils import timezone
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from kilopush.drf import (
    JSONParser,
    MultiPartParser,
    StrictCharField,
    error_responses,
    throttle_by_client_ip,
    validated,
)
from kilopush.errors import InvalidValue, NotFound
from users_app import services as users_services
from users_app.auth import AppView
from users_app.selectors import app_user_by_token

from . import quota, selectors, services
from .names import NAME_PATTERN, channel_name_problem

# Only staff set these; an owner sending them is refused rather than silently ignored.
PRIVILEGED_FIELDS = ("verified", "is_verified", "blocked", "is_blocked", "owner", "token", "secret")


def _logo_upload_limit():
    return settings.LOGO_MAX_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class ChannelSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The Channel Token (c_…)")
    secret = serializers.CharField(help_text="The Channel Secret Key")
    name = serializers.CharField()
    logo_url = serializers.SerializerMethodField()
    verified = serializers.BooleanField(source="is_verified")
    blocked = serializers.BooleanField(source="is_blocked", help_text="Blocked by staff: sends are refused (4023)")
    daily_limit = serializers.SerializerMethodField()
    sent_today = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    webhook_url = serializers.SerializerMethodField()
    webhook_secret = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Where events are POSTed; null: none"))
    def get_webhook_url(self, channel):
        return channel.webhook_url or None

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="whsec_…: the Standard Webhooks secret"))
    def get_webhook_secret(self, channel):
        return channel.webhook_secret or None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_logo_url(self, channel):
        return selectors.channel_logo_url(channel, self.context.get("request"))

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="null for verified channels (no limit)"))
    def get_daily_limit(self, channel):
        return quota.channel_daily_limit(channel)

    @extend_schema_field(serializers.IntegerField(help_text="Messages accepted this UTC day"))
    def get_sent_today(self, channel):
        return quota.channel_sent_today(channel=channel, now=timezone.now())


class ChannelListSerializer(serializers.Serializer):
    channels = ChannelSerializer(many=True)


_LOGO_HELP = "PNG, JPEG or WebP up to 2 MB; stored as a square PNG of at most 256 px"


# What validate_name enforces, for the schema: surrounding white space is trimmed, then 1-64
# characters with a visible one and no control, format (Cf) or line/paragraph separator characters.
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN})
class ChannelNameField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=64,
            help_text="1–64 characters with a visible one; no control, format (bidi, zero-width) or "
            "line separator characters",
            **kwargs,
        )

    def to_internal_value(self, data):
        # The limit holds for what was sent, as the schema says, not only for what is left once trimmed.
        if isinstance(data, str) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class ChannelCreateSerializer(serializers.Serializer):
    name = ChannelNameField()
    logo = serializers.FileField(
        required=False,
        allow_null=True,
        help_text=_LOGO_HELP + " (multipart/form-data). JSON null removes the logo.",
    )

    def validate_name(self, value):
        problem = channel_name_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        for field in PRIVILEGED_FIELDS:
            if field in self.initial_data:
                raise serializers.ValidationError({field: "This field cannot be set by the channel's owner."})
        return attrs


class ChannelUpdateSerializer(ChannelCreateSerializer):
    name = ChannelNameField(required=False)
    webhook_url = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=2000,
        help_text="https URL the channel's events are POSTed to (signed per Standard Webhooks); null removes it",
    )


# The request bodies as documented per media type (the views validate both with the serializers above):
# a logo is a file in multipart/form-data; JSON can only remove it with null, which the schema
# cannot say without allowing other values, so it is left to the description.
class ChannelCreateJSONSerializer(ChannelCreateSerializer):
    """A channel's name. A logo is uploaded with multipart/form-data; in JSON, "logo": null removes it."""

    logo = None


class ChannelCreateFormSerializer(ChannelCreateSerializer):
    logo = serializers.FileField(required=False, help_text=_LOGO_HELP)


class ChannelUpdateJSONSerializer(ChannelUpdateSerializer):
    """A channel's new name. A logo is uploaded with multipart/form-data; in JSON, "logo": null removes it."""

    logo = None


class ChannelUpdateFormSerializer(ChannelUpdateSerializer):
    logo = serializers.FileField(required=False, help_text=_LOGO_HELP)


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new Channel Secret Key; the old one no longer works")


def _channel_body(request, serializer_class):
    if (
        request.content_type.startswith("multipart/")
        and int(request.META.get("CONTENT_LENGTH") or 0) > _logo_upload_limit()
    ):
        raise InvalidValue(f"logo must be at most {settings.LOGO_MAX_BYTES // (1024 * 1024)} MB")
    return validated(serializer_class, request)


def _render(channel, request, status=200):
    return Response(ChannelSerializer(channel, context={"request": request}).data, status=status)


def _own_channel(request, token):
    channel = selectors.channel_owned_by(user=request.user, token=token)
    if channel is None:
        raise NotFound("No such channel")
    return channel


_WRITE_BODY = {"application/json": ChannelCreateJSONSerializer, "multipart/form-data": ChannelCreateFormSerializer}
_UPDATE_BODY = {"application/json": ChannelUpdateJSONSerializer, "multipart/form-data": ChannelUpdateFormSerializer}


class ChannelsView(AppView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="app_channels_list",
        tags=["app: channels"],
        summary="My channels",
        responses={200: ChannelListSerializer, **error_responses(401)},
    )
    def get(self, request):
        channels = selectors.channels_owned_by(request.user)
        return Response(ChannelListSerializer({"channels": channels}, context={"request": request}).data)

    @extend_schema(
        operation_id="app_channels_create",
        tags=["app: channels"],
        summary="Create a channel",
        request=_WRITE_BODY,
        responses={201: ChannelSerializer, **error_responses(400, 401, 403, 429)},
    )
    def post(self, request):
        throttle_by_client_ip(request, group="app-channel-create", rate=settings.APP_CHANNEL_CREATE_RATE)
        data = _channel_body(request, ChannelCreateSerializer)
        channel = services.channel_create(owner=request.user, name=data["name"], logo=data.get("logo"))
        return _render(channel, request, status=201)


class ChannelView(AppView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="app_channels_update",
        tags=["app: channels"],
        summary="Rename a channel or change its logo",
        request=_UPDATE_BODY,
        responses={200: ChannelSerializer, **error_responses(400, 401, 404, 429)},
    )
    def patch(self, request, token):
        channel = _own_channel(request, token)
        data = _channel_body(request, ChannelUpdateSerializer)
        if data.get("logo") is not None:
            # A logo costs a decode: throttled per address like channel creation, before the decode.
            throttle_by_client_ip(request, group="app-logo-update", rate=settings.APP_LOGO_UPDATE_RATE)
        changes = {key: data[key] for key in ("name", "logo") if key in data}
        with transaction.atomic():
            channel = services.channel_update(channel=channel, **changes)
            if "webhook_url" in data:
                channel = services.channel_set_webhook(channel=channel, url=data["webhook_url"])
        return _render(channel, request)

    @extend_schema(
        operation_id="app_channels_delete",
        tags=["app: channels"],
        summary="Delete a channel (and the messages it sent)",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, token):
        services.channel_delete(channel=_own_channel(request, token))
        return Response(status=204)


class RotateSecretView(AppView):
    @extend_schema(
        operation_id="app_channels_rotate_secret",
        tags=["app: channels"],
        summary="Give a channel a new Channel Secret Key",
        request=None,
        responses={200: SecretSerializer, **error_responses(401, 404)},
    )
    def post(self, request, token):
        secret = services.channel_rotate_secret(channel=_own_channel(request, token))
        return Response(SecretSerializer({"secret": secret}).data)


class WebhookSecretSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="The new whsec_… secret; events are signed with it from now on")


class RotateWebhookSecretView(AppView):
    @extend_schema(
        operation_id="app_channels_rotate_webhook_secret",
        tags=["app: channels"],
        summary="Give a channel's webhook a new secret",
        request=None,
        responses={200: WebhookSecretSerializer, **error_responses(401, 404)},
    )
    def post(self, request, token):
        secret = services.channel_rotate_webhook_secret(channel=_own_channel(request, token))
        return Response(WebhookSecretSerializer({"webhook_secret": secret}).data)


# --- send keys: POST/GET /v1/app/channels/TOKEN/keys, DELETE /v1/app/channels/TOKEN/keys/ID ---


@extend_schema_field({"type": "string", "pattern": "^u_[0-9a-f]{40}$"})
class UserTokenField(StrictCharField):
    pass


@extend_schema_field({"type": "string", "maxLength": 64, "pattern": f"^$|{NAME_PATTERN}"})
class KeyLabelField(StrictCharField):
    pass


class SendKeyCreateSerializer(serializers.Serializer):
    to = UserTokenField(required=False, max_length=42, help_text="The recipient's User Token; default: your own")
    label = KeyLabelField(required=False, allow_blank=True, max_length=64,
                          help_text="What the key is for: empty, or 1–64 characters like a channel's name")

    def validate_label(self, value):
        problem = value and channel_name_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class SendKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    to = serializers.CharField(source="recipient.token", help_text="The User Token the key sends to")
    label = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class SendKeyCreatedSerializer(SendKeySerializer):
    key = serializers.CharField(help_text="k_ and 40 hex digits: shown only in this answer")
    last_used_at = None


class SendKeyListSerializer(serializers.Serializer):
    keys = SendKeySerializer(many=True)


class SendKeysView(AppView):
    @extend_schema(
        operation_id="app_channel_keys_list",
        tags=["app: channels"],
        summary="The channel's send keys (never the keys themselves)",
        responses={200: SendKeyListSerializer, **error_responses(401, 404)},
    )
    def get(self, request, token):
        keys = selectors.send_keys_of(_own_channel(request, token))
        return Response(SendKeyListSerializer({"keys": keys}).data)

    @extend_schema(
        operation_id="app_channel_keys_create",
        tags=["app: channels"],
        summary="Create a send key: one string that sends as this channel to one recipient",
        request=SendKeyCreateSerializer,
        responses={201: SendKeyCreatedSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request, token):
        channel = _own_channel(request, token)
        data = validated(SendKeyCreateSerializer, request)
        throttle_by_client_ip(request, group="app-key-create", rate=settings.APP_KEY_CREATE_RATE)
        recipient = request.user
        if data.get("to") is not None and data["to"] != request.user.token:
            recipient = app_user_by_token(data["to"])
            if recipient is None:
                raise InvalidValue("to: unknown User Token")
        send_key, key = services.send_key_create(channel=channel, recipient=recipient, label=data.get("label", ""))
        send_key.key = key  # this answer only
        return Response(SendKeyCreatedSerializer(send_key).data, status=201)


class SendKeyView(AppView):
    @extend_schema(
        operation_id="app_channel_keys_delete",
        tags=["app: channels"],
        summary="Revoke a send key: it stops working at once",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, token, key_id):
        if not services.send_key_revoke(channel=_own_channel(request, token), key_id=key_id):
            raise NotFound("No such key")
        return Response(status=204)


@require_safe
def logo_file(request, name):
    """Serves a stored logo (also with DEBUG off); its name changes with every new logo."""
    try:
        file = default_storage.open(name)
    except (FileNotFoundError, OSError):
        raise Http404("No such logo") from None
    response = FileResponse(file, content_type="image/png")
    response["Cache-Control"] = f"public, max-age={settings.LOGO_CACHE_SECONDS}, immutable"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


# --- the blacklist (/v1/app/blocked): a user's refused channels ---


class BlockedChannelSerializer(serializers.Serializer):
    token = serializers.CharField()
    name = serializers.CharField()
    logo_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_logo_url(self, channel):
        return selectors.channel_logo_url(channel, self.context.get("request"))


class BlockedListSerializer(serializers.Serializer):
    channels = BlockedChannelSerializer(many=True)


class BlockSerializer(serializers.Serializer):
    channel = StrictCharField(max_length=64, help_text="The Channel Token (c_…) to refuse messages from")


class BlockedView(AppView):
    @extend_schema(
        operation_id="app_blocked_list",
        tags=["app: blacklist"],
        summary="The blacklist: channels whose messages are refused",
        responses={200: BlockedListSerializer, **error_responses(401)},
    )
    def get(self, request):
        channels = selectors.blacklisted_channels(request.user)
        return Response(BlockedListSerializer({"channels": channels}, context={"request": request}).data)

    @extend_schema(
        operation_id="app_blocked_add",
        tags=["app: blacklist"],
        summary="Refuse a channel's messages (idempotent)",
        request=BlockSerializer,
        responses={201: BlockedChannelSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request):
        token = validated(BlockSerializer, request)["channel"]
        channel = selectors.channel_by_token(token) if selectors.is_channel_token(token) else None
        if channel is None:
            raise NotFound("No such channel")
        users_services.blacklist_add(user=request.user, channel=channel)
        return Response(BlockedChannelSerializer(channel, context={"request": request}).data, status=201)


class BlockedChannelView(AppView):
    @extend_schema(
        operation_id="app_blocked_remove",
        tags=["app: blacklist"],
        summary="Accept a blacklisted channel's messages again",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, token):
        channel = selectors.blacklisted_channel(user=request.user, token=token)
        if channel is None:
            raise NotFound("This channel is not on your blacklist")
        users_services.blacklist_remove(user=request.user, channel=channel)
        return Response(status=204)
