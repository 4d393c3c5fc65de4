"""The one place where a push token's shape is checked, before it is stored (issue 16, item 2).

A token goes into an APNs request path or an FCM JSON body: a token with a line break
or a space in it is not a token, it is an attempt to break the provider connection.
"""

import hashlib
import re

from django.db import connection

from kilopush.errors import InvalidValue

APNS_TOKEN_MAX = 200  # 64 hex characters (32 bytes) today; Apple may lengthen them
FCM_TOKEN_MAX = 4096

APNS_TOKEN_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+")
FCM_TOKEN_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space, no control character

# pg_advisory_xact_lock(namespace, key): the namespace keeps these keys apart from any other advisory lock.
PUSH_TOKEN_LOCK_NAMESPACE = 0x4B50  # "KP"

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


def lock_push_token(push_token):
    """Until the transaction ends, this is the only one registering `push_token` (issue 23, item 10).

    Two accounts taking one token at once would each delete the other's device and both insert
    their own: the unique index turns that into an IntegrityError. Waiting on a lock keyed by the
    token makes them take turns, so the last one holds it, as when they come one after the other.
    SQLite needs nothing: it has one writer at a time.
    """
    if not push_token or connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(push_token.encode(), digest_size=4).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PUSH_TOKEN_LOCK_NAMESPACE, key])
