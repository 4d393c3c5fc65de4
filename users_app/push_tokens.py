"""The one place where a push token's shape is checked, before it is stored (issue 16, item 2).

A token goes into an APNs request path or an FCM JSON body: a token with a line break
or a space in it is not a token, it is an attempt to break the provider connection.
"""

import re

from kilopush.errors import InvalidValue

APNS_TOKEN_MAX = 200  # 64 hex characters (32 bytes) today; Apple may lengthen them
FCM_TOKEN_MAX = 4096

APNS_TOKEN_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+")
FCM_TOKEN_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space, no control character

# For the OpenAPI schema: the same rules as JSON Schema patterns.
APNS_TOKEN_PATTERN = r"^([0-9A-Fa-f]{2})+$"
FCM_TOKEN_PATTERN = r"^[\u0021-\u007e]+$"


def push_token_problem(platform, token):
    """Why `token` cannot be a push token of `platform`, or None. Platforms without rules here pass."""
    if platform == "ios":
        if len(token) > APNS_TOKEN_MAX or not APNS_TOKEN_RE.fullmatch(token):
            return f"an APNs token is an even number of hex digits, at most {APNS_TOKEN_MAX}"
    elif platform == "android":
        if len(token) > FCM_TOKEN_MAX or not FCM_TOKEN_RE.fullmatch(token):
            return f"an FCM token is printable ASCII without spaces, at most {FCM_TOKEN_MAX} characters"
    return None


def validate_push_token(platform, token):
    """Raises InvalidValue (4005) unless `token` has the shape of a `platform` push token."""
    problem = push_token_problem(platform, token)
    if problem:
        raise InvalidValue(f"push_token: {problem}")
    return token
