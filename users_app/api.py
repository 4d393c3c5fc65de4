"""The app API: registration, the account, the device and the blacklist."""

import logging

from django.conf import settings
from django_ratelimit.core import get_usage
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from channels_app.selectors import channel_by_token, channel_count_of, channel_logo_url, is_channel_token
from kilopush.drf import (
    MAX_ID,
    StrictBooleanField,
    StrictCharField,
    error_responses,
    throttle_by_client_ip,
    validated,
)
from kilopush.errors import InvalidValue, NotFound, Throttled
from messaging.selectors import unread_count
from stream_app import selectors as stream_app_selectors

from . import selectors, services
from .auth import AccountBlocked, AppView
from .models import Device
from .push_tokens import APNS_TOKEN_MAX, APNS_TOKEN_PATTERN, FCM_TOKEN_MAX, FCM_TOKEN_PATTERN
from .session_labels import session_label

logger = logging.getLogger(__name__)

INVALID_LINK_CODE = "Invalid link code: wrong, already used or expired"



class DeviceUpdateSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=[Device.ANDROID, Device.IOS, Device.WEB])
    push_token = StrictCharField(
        max_length=4096, required=False, allow_blank=True,
        help_text="FCM token (printable ASCII, no spaces) or APNs token (hex, at most 200); required for android and ios, ignored for web",
    )
    sandbox = StrictBooleanField(required=False, help_text="APNs development environment (iOS debug builds)")
    app_version = StrictCharField(max_length=64, required=False, allow_blank=True)
    locale = StrictCharField(max_length=35, required=False, allow_blank=True)

    def validate(self, attrs):
        if attrs["platform"] in Device.PHONE_PLATFORMS and not attrs.get("push_token"):
            raise serializers.ValidationError({"push_token": "This field is required for android and ios."})
        return attrs


class SubscriptionKeysSerializer(serializers.Serializer):
    p256dh = StrictCharField(max_length=200, help_text="base64url of the browser's P-256 public key (65 bytes)")
    auth = StrictCharField(max_length=100, help_text="base64url of the 16-byte authentication secret")


class SubscriptionSerializer(serializers.Serializer):
    """The browser's PushSubscription.toJSON(), as it is (expirationTime and other fields are ignored)."""

    endpoint = StrictCharField(
        max_length=4096, help_text="https:// URL on a push service named in WEBPUSH_ENDPOINT_HOSTS"
    )
    keys = SubscriptionKeysSerializer()


class RegisterSerializer(DeviceUpdateSerializer):
    subscription = SubscriptionSerializer(required=False, help_text="web only: the browser's Web Push subscription")


class DeviceCreateSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=[Device.ANDROID, Device.IOS, Device.WEB])
    push_token = StrictCharField(max_length=4096, required=False, help_text="FCM or APNs token (android and ios)")
    sandbox = StrictBooleanField(required=False, help_text="APNs development environment (iOS debug builds)")
    subscription = SubscriptionSerializer(required=False, help_text="web: the browser's PushSubscription.toJSON()")
    label = StrictCharField(max_length=64, required=False, allow_blank=True, help_text="A name for it, e.g. Laptop")

    def validate(self, attrs):
        if attrs["platform"] == Device.WEB:
            if "subscription" not in attrs:
                raise serializers.ValidationError({"subscription": "This field is required for web."})
        elif not (attrs.get("push_token") or "").strip():
            raise serializers.ValidationError({"push_token": "This field is required for android and ios."})
        return attrs


def _phone_token_branches():
    """anyOf branches: android needs an FCM token, ios an APNs token, as users_app.push_tokens enforces."""
    return [
        {
            "properties": {
                "platform": {"pattern": f"^{Device.ANDROID}$"},
                "push_token": {"pattern": FCM_TOKEN_PATTERN, "maxLength": FCM_TOKEN_MAX},
            },
            "required": ["push_token"],
        },
        {
            "properties": {
                "platform": {"pattern": f"^{Device.IOS}$"},
                "push_token": {"pattern": APNS_TOKEN_PATTERN, "maxLength": APNS_TOKEN_MAX},
            },
            "required": ["push_token"],
        },
    ]


class DeviceCreateSchema(OpenApiSerializerExtension):
    # The schema says what validate() enforces: web needs a subscription, android and ios a valid push_token.
    target_class = DeviceCreateSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        web = {"properties": {"platform": {"pattern": f"^{Device.WEB}$"}}, "required": ["subscription"]}
        schema["anyOf"] = [web, *_phone_token_branches()]
        return schema


class DeviceUpdateSchema(OpenApiSerializerExtension):
    # The same for register and PUT /v1/app/device, where a web subscription is optional.
    target_class = DeviceUpdateSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["anyOf"] = [{"properties": {"platform": {"pattern": f"^{Device.WEB}$"}}}, *_phone_token_branches()]
        return schema


class RegisterResponseSerializer(serializers.Serializer):
    user_token = serializers.CharField(help_text="The User Token (u_…): the public address people send to")
    access_token = serializers.CharField(help_text="The app's credential (Bearer); shown only once")


class LinkCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Single use; type it (or open SITE/#link=CODE) on the other browser or phone")
    expires_at = serializers.DateTimeField(help_text="10 minutes after it was made")


class LinkSerializer(serializers.Serializer):
    code = StrictCharField(max_length=64, help_text="A code from POST /v1/app/link-codes (case and dashes ignored)")


class LinkPreviewSerializer(serializers.Serializer):
    user_token_last4 = serializers.CharField(
        help_text="The last 4 characters of the User Token the code links to, for the person to confirm (u_…abcd)"
    )


class SessionSerializer(serializers.Serializer):
    """One signed-in browser or phone (an access token); the token itself never leaves the server."""

    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Recorded at most once a minute")
    label = serializers.CharField(help_text="From the User-Agent or the platform (\"Chrome on Linux\"); may be empty")
    current = serializers.BooleanField(help_text="true: the session making this request")


class SessionListSerializer(serializers.Serializer):
    sessions = SessionSerializer(many=True)


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


class DeviceSerializer(serializers.Serializer):
    platform = serializers.CharField()
    sandbox = serializers.BooleanField()
    app_version = serializers.CharField()
    locale = serializers.CharField()
    active = serializers.BooleanField(source="is_active", help_text="false: the push token was refused as dead")
    updated_at = serializers.DateTimeField()


class DeviceItemSerializer(serializers.Serializer):
    """One of the account's devices; its push token and keys never leave the server."""

    id = serializers.IntegerField()
    platform = serializers.CharField()
    label = serializers.CharField()
    active = serializers.BooleanField(source="is_active", help_text="false: the push service called it dead")
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True, help_text="When it last registered itself")


class DeviceListSerializer(serializers.Serializer):
    devices = DeviceItemSerializer(many=True)


class WebPushKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The VAPID public key (base64url, 65-byte uncompressed P-256 point): PushManager.subscribe's "
                  "applicationServerKey"
    )


class BlockedChannelSerializer(serializers.Serializer):
    token = serializers.CharField()
    name = serializers.CharField()
    logo_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_logo_url(self, channel):
        return channel_logo_url(channel, self.context.get("request"))


class BlockedListSerializer(serializers.Serializer):
    channels = BlockedChannelSerializer(many=True)


class BlockSerializer(serializers.Serializer):
    channel = StrictCharField(max_length=64, help_text="The Channel Token (c_…) to refuse messages from")


def _device_fields(data):
    return {
        "platform": data["platform"],
        "push_token": data.get("push_token", "") if data["platform"] != Device.WEB else "",
        "sandbox": data.get("sandbox"),
        "app_version": data.get("app_version"),
        "locale": data.get("locale"),
    }


class RegisterView(AppView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="app_register",
        tags=["app: account"],
        summary="Register an app install",
        request=RegisterSerializer,
        responses={201: RegisterResponseSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        throttle_by_client_ip(request, group="app-register", rate=settings.APP_REGISTER_RATE)
        data = validated(RegisterSerializer, request)
        fields = _device_fields(data)
        if data["platform"] == Device.WEB:
            fields["subscription"] = data.get("subscription")
        fields["sandbox"] = bool(fields["sandbox"])
        fields["app_version"] = fields["app_version"] or ""
        fields["locale"] = fields["locale"] or ""
        user, access_token = services.app_user_create(**fields, label=_session_label(request, data["platform"]))
        body = RegisterResponseSerializer({"user_token": user.token, "access_token": access_token}).data
        return Response(body, status=201)


def _me(user):
    me = {"token": user.token, "created_at": user.created_at, "read_receipts": user.read_receipts}
    me.update(channels=channel_count_of(user), unread=unread_count(user))
    return MeSerializer(me).data


def throttle_by_account(request, *, group, rate):
    """Counts this request against the account's `rate` (django-ratelimit in Redis); 4029 once used up.

    Fails open when the cache is unreachable, as throttle_by_client_ip does."""
    try:
        usage = get_usage(request, group=group, key=lambda group, req: req.user.token, rate=rate, increment=True)
    except Exception:
        logger.warning("Rate-limit cache unreachable; not throttling %s", group, exc_info=True)
        return
    if usage and usage["should_limit"]:
        raise Throttled(headers={"Retry-After": str(max(usage["time_left"], 1))})


def _session_label(request, platform=""):
    return session_label(request.META.get("HTTP_USER_AGENT", ""), platform)


class LinkCodesView(AppView):
    @extend_schema(
        operation_id="app_link_codes_create",
        tags=["app: account"],
        summary="A code that links another browser or phone to this account",
        description="Throttled per account and per client address (APP_LINK_CODE_RATE). An account keeps at most "
                    "5 live codes: a 6th retires the oldest.",
        request=None,
        responses={201: LinkCodeSerializer, **error_responses(401, 429)},
    )
    def post(self, request):
        throttle_by_account(request, group="app-link-code-user", rate=settings.APP_LINK_CODE_RATE)
        throttle_by_client_ip(request, group="app-link-code", rate=settings.APP_LINK_CODE_RATE)
        code, expires_at = services.link_code_create(user=request.user)
        return Response(LinkCodeSerializer({"code": code, "expires_at": expires_at}).data, status=201)


class LinkView(AppView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="app_link",
        tags=["app: account"],
        summary="Link this browser or phone to an account with a link code",
        description="A wrong, used or expired code gets the same 400/4005 answer.",
        request=LinkSerializer,
        responses={201: RegisterResponseSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        throttle_by_client_ip(request, group="app-link", rate=settings.APP_LINK_RATE)
        code = validated(LinkSerializer, request)["code"]
        linked = services.link_code_redeem(code=code, label=_session_label(request))
        if linked is None:
            raise InvalidValue(INVALID_LINK_CODE)
        user, access_token = linked
        body = RegisterResponseSerializer({"user_token": user.token, "access_token": access_token}).data
        return Response(body, status=201)


class LinkPreviewView(AppView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="app_link_preview",
        tags=["app: account"],
        summary="Which account a link code would link to, without using it",
        description="For the confirmation a person must give before linking: only the last 4 characters of the "
                    "User Token. The code stays unused and nothing is stored. Counted with POST /v1/app/link "
                    "against APP_LINK_RATE; a wrong, used or expired code gets the same 400/4005.",
        request=LinkSerializer,
        responses={200: LinkPreviewSerializer, **error_responses(400, 429)},
    )
    def post(self, request):
        throttle_by_client_ip(request, group="app-link", rate=settings.APP_LINK_RATE)
        user = selectors.link_code_owner(code=validated(LinkSerializer, request)["code"])
        if user is None:
            raise InvalidValue(INVALID_LINK_CODE)
        if user.is_blocked:
            raise AccountBlocked()  # as POST /v1/app/link would answer
        return Response(LinkPreviewSerializer({"user_token_last4": user.token[-4:]}).data)


def _sessions(request):
    current = request.user.session.pk
    rows = [
        {"id": s.pk, "created_at": s.created_at, "last_used_at": s.last_used_at, "label": s.label,
         "current": s.pk == current}
        for s in selectors.sessions_of(request.user)
    ]
    return SessionListSerializer({"sessions": rows}).data


class SessionsView(AppView):
    @extend_schema(
        operation_id="app_sessions_list",
        tags=["app: account"],
        summary="The browsers and phones signed in to this account (its access tokens), oldest first",
        responses={200: SessionListSerializer, **error_responses(401)},
    )
    def get(self, request):
        return Response(_sessions(request))


class SessionView(AppView):
    @extend_schema(
        operation_id="app_sessions_revoke",
        tags=["app: account"],
        summary="Sign out another browser or phone",
        description="Its access token answers 401 at once and its live streams close within seconds. The current "
                    "session is 403/4003 (DELETE /v1/app/sessions/current signs it out); another account's "
                    "session answers like a missing one (404/4004).",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, session_id):
        revoked = session_id <= MAX_ID and services.session_revoke(
            user=request.user, session_id=session_id, current=request.user.session
        )
        if not revoked:
            raise NotFound("No such session")
        return Response(status=204)


class CurrentSessionView(AppView):
    @extend_schema(
        operation_id="app_sessions_sign_out",
        tags=["app: account"],
        summary="Sign out this browser or phone",
        description="The access token of this request stops working. The account's only session is 403/4003: "
                    "without an access token nobody could reach the account again (link another device first, "
                    "or delete the account).",
        responses={204: None, **error_responses(401, 403)},
    )
    def delete(self, request):
        services.session_sign_out(user=request.user, current=request.user.session)
        return Response(status=204)


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
            services.app_user_set_read_receipts(user=request.user, enabled=data["read_receipts"])
        return Response(_me(request.user))

    @extend_schema(
        operation_id="app_me_delete",
        tags=["app: account"],
        summary="Delete the account with its devices, channels, messages and blacklist",
        responses={204: None, **error_responses(401)},
    )
    def delete(self, request):
        services.app_user_delete(user=request.user)
        return Response(status=204)


class DeviceView(AppView):
    @extend_schema(
        operation_id="app_device_update",
        tags=["app: account"],
        summary="Record the install's current push token",
        request=DeviceUpdateSerializer,
        responses={200: DeviceSerializer, **error_responses(400, 401)},
    )
    def put(self, request):
        device = services.device_update(user=request.user, **_device_fields(validated(DeviceUpdateSerializer, request)))
        return Response(DeviceSerializer(device).data)


class DevicesView(AppView):
    @extend_schema(
        operation_id="app_devices_list",
        tags=["app: devices"],
        summary="The account's devices (phones and browsers)",
        responses={200: DeviceListSerializer, **error_responses(401)},
    )
    def get(self, request):
        return Response(DeviceListSerializer({"devices": selectors.devices_of(request.user)}).data)

    @extend_schema(
        operation_id="app_devices_add",
        tags=["app: devices"],
        summary="Add a device: a phone's push token or a browser's Web Push subscription",
        description="201 with the new device; 200 with the device if this account already has this token or "
                    "endpoint. A token or endpoint another account holds moves to this one (its device there "
                    "is deleted).",
        request=DeviceCreateSerializer,
        responses={201: DeviceItemSerializer, 200: DeviceItemSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        data = validated(DeviceCreateSerializer, request)
        device, created = services.device_register(
            user=request.user,
            platform=data["platform"],
            push_token=data.get("push_token", ""),
            subscription=data.get("subscription"),
            sandbox=data.get("sandbox", False),
            label=data.get("label"),
        )
        return Response(DeviceItemSerializer(device).data, status=201 if created else 200)


class DeviceItemView(AppView):
    @extend_schema(
        operation_id="app_devices_remove",
        tags=["app: devices"],
        summary="Remove one of the account's devices",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, device_id):
        if device_id > MAX_ID or not services.device_delete(user=request.user, device_id=device_id):
            raise NotFound("No such device")
        return Response(status=204)


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
        from messaging.vapid import application_server_key

        return Response(WebPushKeySerializer({"public_key": application_server_key()}).data)


class ConfigSerializer(serializers.Serializer):
    stream_url = serializers.CharField(help_text="Absolute URL of the live stream (GET, Authorization: Bearer)")
    webpush_public_key = serializers.CharField(help_text="The VAPID public key, as GET /v1/app/webpush gives it")


class ConfigView(AppView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="app_config",
        tags=["app: account"],
        summary="Where a client finds things: the live stream's URL and the Web Push key",
        responses={200: ConfigSerializer},
    )
    def get(self, request):
        from messaging.vapid import application_server_key

        config = {"stream_url": stream_app_selectors.stream_url(request), "webpush_public_key": application_server_key()}
        return Response(ConfigSerializer(config).data)


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
        channel = channel_by_token(token) if is_channel_token(token) else None
        if channel is None:
            raise NotFound("No such channel")
        services.blacklist_add(user=request.user, channel=channel)
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
        services.blacklist_remove(user=request.user, channel=channel)
        return Response(status=204)
