"""The app API: registration, linking, sessions and devices.

The account (/v1/app/me, with the unread count) and the Web Push key are in messaging/api.py, the blacklist in
channels_app/api.py, the config in stream_app/api.py: each sits in the lowest app that sees what it shows.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from kilopush.drf import (
    MAX_ID,
    StrictBooleanField,
    StrictCharField,
    error_responses,
    validated,
)
from kilopush.errors import InvalidValue, NotFound
from kilopush.throttle import throttle_by_account, throttle_by_client_ip

from . import selectors, services
from .auth import AccountBlocked, AppView
from .models import Device
from .push_tokens import APNS_TOKEN_MAX, APNS_TOKEN_PATTERN, FCM_TOKEN_MAX, FCM_TOKEN_PATTERN
from .session_labels import session_label


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


class DeviceSerializer(serializers.Serializer):
    platform = serializers.CharField()
    sandbox = serializers.BooleanField()
    app_version = serializers.CharField()
    locale = serializers.CharField()
    active = serializers.BooleanField(source="is_active", help_text="false: the push token was refused as dead, or the session that registered it was signed out")
    updated_at = serializers.DateTimeField()


class DeviceItemSerializer(serializers.Serializer):
    """One of the account's devices; its push token and keys never leave the server."""

    id = serializers.IntegerField()
    platform = serializers.CharField()
    label = serializers.CharField()
    active = serializers.BooleanField(source="is_active", help_text="false: the push service called it dead, or the session that registered it was signed out")
    receives_pushes = serializers.BooleanField(
        help_text="Active, with a push token, and for a browser notifications on (a Web Push subscription)")
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True, help_text="When it last registered itself")


class DeviceListSerializer(serializers.Serializer):
    devices = DeviceItemSerializer(many=True)


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


class DeviceView(AppView):
    @extend_schema(
        operation_id="app_device_update",
        tags=["app: account"],
        summary="Record the install's current push token",
        request=DeviceUpdateSerializer,
        responses={200: DeviceSerializer, **error_responses(400, 401)},
    )
    def put(self, request):
        device = services.device_update(user=request.user, session=request.user.session,
                                        **_device_fields(validated(DeviceUpdateSerializer, request)))
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
            session=request.user.session,
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


