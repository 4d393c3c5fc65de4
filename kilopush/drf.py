"""DRF plumbing shared by the app API's views: parsers, body validation, strict fields, throttling, error docs.

The base view with the app's credential is `users_app.auth.AppView`."""

from django.core.exceptions import SuspiciousOperation
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError

from kilopush.errors import InvalidHeaders, InvalidValue, describe_codes
from kilopush.throttle import throttle_by_client_ip  # noqa: F401 (channels_app/api.py imports it from here)


# PostgreSQL bigint: larger ids cannot exist and must not reach a query.
MAX_ID = 2**63 - 1


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except SuspiciousOperation:  # too many fields or files
            raise ParseError("Multipart form parse error - too many parts") from None


def body_of(request):
    """The request body as a dict; 4000 for a body without Content-Type, 4005 for a non-object."""
    if request.META.get("CONTENT_LENGTH") not in (None, "", "0") and not request.content_type:
        raise InvalidHeaders("Content-Type must be application/json")
    data = request.data
    if not isinstance(data, dict):
        raise InvalidValue("The body must be a JSON object")
    return data


def validated(serializer_class, request, **kwargs):
    data = body_of(request)
    serializer = serializer_class(data=data, **kwargs)
    if hasattr(data, "getlist"):  # multipart: a field sent twice would silently lose all but its last value
        for name in serializer.fields:
            if len(data.getlist(name)) > 1:
                raise InvalidValue(f"{name}: must be sent once")
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's CharField would turn 12 into "12")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    # DRF refuses a NUL character in every CharField (4005); the schema says so too.
    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema.setdefault("pattern", r"^[^\u0000]+$")  # "+": drf-spectacular adds "" itself (allow_blank) in a oneOf
        return schema


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class IdField(serializers.IntegerField):
    """A positive message id, JSON integer only."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter, as the schema says: present but empty (`?after=`) or given twice is invalid.

    DRF would take an empty value of an optional field for an absent one, and the last of repeated values.
    """

    def get_value(self, dictionary):
        values = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else []
        if len(values) > 1:
            return values  # given twice: invalid, not "the last one wins"
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="One of the codes in docs/send-api.md (kilopush.errors.CODES)")
    message = serializers.CharField(help_text="Readable text; do not parse it")


class ErrorEnvelopeSerializer(serializers.Serializer):
    response = ErrorSerializer()


# The codes each HTTP status of the app API carries (their meanings: kilopush.errors.CODES).
_CODES_BY_HTTP_STATUS = {
    400: (4000, 4005),
    401: (4001,),
    403: (4003,),
    404: (4004,),
    405: (4005,),
    429: (4029,),
}


def error_responses(*http_statuses):
    """drf-spectacular descriptions of the error envelopes a view can answer with."""
    from drf_spectacular.utils import OpenApiResponse

    return {
        status: OpenApiResponse(ErrorEnvelopeSerializer, description=describe_codes(*_CODES_BY_HTTP_STATUS[status]))
        for status in http_statuses
    }
