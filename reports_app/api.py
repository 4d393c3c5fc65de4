"""The app API's abuse reports: a recipient reports a message or a channel to staff."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from kilopush.drf import IdField, StrictBooleanField, StrictCharField, error_responses, validated
from kilopush.throttle import throttle_by_account, throttle_by_client_ip
from users_app.auth import AppView

from . import services
from .models import Report


class ReportRequestSerializer(serializers.Serializer):
    message = IdField(required=False, help_text="The id of a message in your inbox; or give channel")
    channel = StrictCharField(max_length=64, required=False, help_text="A Channel Token (c_…); or give message")
    reason = serializers.ChoiceField(choices=[r for r, _ in Report.REASONS])
    comment = StrictCharField(max_length=500, required=False, allow_blank=True, help_text="At most 500 characters")
    block = StrictBooleanField(required=False, help_text="Also put the channel on your blacklist")

    def validate(self, attrs):
        if ("message" in attrs) == ("channel" in attrs):
            raise serializers.ValidationError("Give either message or channel")
        return attrs


class ReportRequestSchema(OpenApiSerializerExtension):
    # The schema says what validate() enforces: exactly one of message and channel.
    target_class = ReportRequestSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["oneOf"] = [{"required": ["message"]}, {"required": ["channel"]}]
        return schema


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    message = serializers.IntegerField(source="message_ref", allow_null=True)
    channel = serializers.CharField(source="channel_token")
    reason = serializers.CharField()
    comment = serializers.CharField()
    blocked = serializers.BooleanField(help_text="The channel was put on your blacklist")
    created_at = serializers.DateTimeField()


class ReportsView(AppView):
    @extend_schema(
        operation_id="app_reports_create",
        tags=["app: reports"],
        summary="Report a message or a channel to staff",
        request=ReportRequestSerializer,
        responses={201: ReportSerializer, **error_responses(400, 401, 404, 429)},
    )
    def post(self, request):
        throttle_by_account(request, group="app-report-user", rate=settings.APP_REPORT_RATE)
        throttle_by_client_ip(request, group="app-report", rate=settings.APP_REPORT_RATE)
        data = validated(ReportRequestSerializer, request)
        report = services.report_create(
            reporter=request.user,
            reason=data["reason"],
            message_id=data.get("message"),
            channel_token=data.get("channel"),
            comment=data.get("comment", ""),
            block=data.get("block", False),
        )
        return Response(ReportSerializer(report).data, status=201)
