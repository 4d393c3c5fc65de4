"""Random tokens, digests and field encryption shared by the apps."""

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet
from django.conf import settings


def random_hex_token(prefix, nbytes=20):
    return prefix + secrets.token_hex(nbytes)


def digest(value):
    """Keyed digest used to look up and compare credentials without storing them."""
    return hmac.new(settings.DIGEST_KEY, value.encode(), hashlib.sha256).hexdigest()


def digests_match(value, expected_digest):
    return hmac.compare_digest(digest(value), expected_digest)


def _fernet():
    return Fernet(settings.FIELD_ENCRYPTION_KEY)


def encrypt(value):
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token):
    return _fernet().decrypt(token.encode()).decode()
