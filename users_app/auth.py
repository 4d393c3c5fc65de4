"""The app's credential: `Authorization: Bearer <access token>`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from kilopush.drf import JSONParser
from kilopush.errors import NotAuthenticated

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
        return user, credential

    def authenticate_header(self, request):
        return CHALLENGE


class IsAppUser(BasePermission):
    def has_permission(self, request, view):
        if request.user is None:
            raise refused("Missing access token")
        return True


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
