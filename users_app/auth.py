"""The app's credential: `Authorization: Bearer <access token>`."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from kilopush.drf import JSONParser
from kilopush.errors import Blocked, NotAuthenticated, describe_codes

from .selectors import app_user_by_access_token

CHALLENGE = 'Bearer realm="kilopush"'


def refused(message):
    return NotAuthenticated(message, headers={"WWW-Authenticate": CHALLENGE})


def bearer_credential(header):
    """The access token of an `Authorization: Bearer …` header value; 4001 if missing or malformed."""
    if not header:
        raise refused("Missing access token")
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or "\x00" in credential:
        raise refused("Authorization must be 'Bearer <access token>'")
    return credential


class AccessTokenAuthentication(BaseAuthentication):
    """request.user becomes the AppUser; a present but wrong credential is 4001 at once."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        credential = bearer_credential(header)
        user = app_user_by_access_token(credential)
        if user is None:
            raise refused("Invalid access token")
        from .services import access_token_touch  # services imports this module

        access_token_touch(session=user.session)
        return user, credential

    def authenticate_header(self, request):
        return CHALLENGE


class AccountBlocked(Blocked):
    http_status, message = 403, "This account is blocked"


# What an account blocked by staff may still do: read (GET), mark read, delete inbox messages, delete
# itself. Every other call of the app API is 4023, whichever view it reaches: (URL name, method).
ALLOWED_WHILE_BLOCKED = {
    ("app-messages-read", "POST"),
    ("app-message-read", "POST"),
    ("app-message", "DELETE"),
    ("app-me", "DELETE"),
    # Signing out a browser or phone: a blocked person may still lock out one they lost.
    ("app-session", "DELETE"),
    ("app-session-current", "DELETE"),
}
READING = ("GET", "HEAD", "OPTIONS")


def allowed_while_blocked(url_name, method):
    return method in READING or (url_name, method) in ALLOWED_WHILE_BLOCKED


class IsAppUser(BasePermission):
    def has_permission(self, request, view):
        if request.user is None:
            raise refused("Missing access token")
        if request.user.is_blocked:
            match = request.resolver_match
            if not allowed_while_blocked(match.url_name if match else None, request.method):
                raise AccountBlocked()
        return True


def concrete_path(template):
    """A path of the schema with its parameters filled in: `/v1/app/messages/{message_id}` -> `.../1`."""
    return re.sub(r"\{[a-z_]*id\}", "1", template).replace("{", "").replace("}", "")


def add_blocked_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the 403/4023 answer of every call a blocked account may not make."""
    from django.urls import Resolver404, resolve

    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/v1/app/") or path == "/v1/app/register":
            continue
        try:
            url_name = resolve(concrete_path(path)).url_name
        except Resolver404:
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or allowed_while_blocked(url_name, method.upper()):
                continue
            responses = operation.setdefault("responses", {})
            codes = (4003, 4023) if "403" in responses else (4023,)
            forbidden = responses.setdefault("403", {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
            })
            forbidden["description"] = describe_codes(*codes)
    return result


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = AccessTokenAuthentication
    name = "accessToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The access token returned by POST /v1/app/register.",
        }


class AppView(APIView):
    # Base of the app API's views: Bearer access token required, JSON bodies.

    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsAppUser]
    parser_classes = [JSONParser]
