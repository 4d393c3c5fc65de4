"""The server's VAPID key (RFC 8292): VAPID_PRIVATE_KEY, or one generated once and kept in the database.

The generated key is one row (messaging.models.VapidKey), encrypted with FIELD_ENCRYPTION_KEY, so
every node (web, stream, worker, on any machine) signs with the key the browsers subscribed with,
without configuration. Processes starting together insert with ON CONFLICT DO NOTHING and then all
read the one row that won. A key an older version generated under KILOPUSH_VAR_DIR is the one
stored, so the browsers subscribed with it keep receiving.
"""

import base64
import threading
from pathlib import Path

from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from kilopush.crypto import decrypt, encrypt

LEGACY_KEY_NAME = "vapid-private-key.pem"  # where versions before issue 23 generated the key, per node

_lock = threading.Lock()
_cache = {}


def generate_pem():
    """A new EC P-256 private key in PEM (PKCS#8)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_pem(pem, source="VAPID_PRIVATE_KEY"):
    """The P-256 private key in pem; ImproperlyConfigured (naming the source) otherwise."""
    text = pem.strip().replace("\\n", "\n")  # a PEM pasted into one environment line
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{source} is not a PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured(f"{source} must be an EC P-256 (prime256v1) private key")
    return key


def legacy_key_file():
    """The key file an older version generated under KILOPUSH_VAR_DIR, or None."""
    path = Path(settings.VAR_DIR) / LEGACY_KEY_NAME
    return path if path.is_file() else None


def _encoded_point(key):
    return base64.urlsafe_b64encode(public_key_point(key)).rstrip(b"=").decode()


def stored_pem(*, create=True):
    """The stored key's PEM, created if there is none (None if create is False and there is none).

    Raises ImproperlyConfigured when this node cannot decrypt it: its FIELD_ENCRYPTION_KEY differs.
    """
    from .models import VapidKey

    row = VapidKey.objects.filter(pk=VapidKey.ONLY).first()
    if row is None:
        if not create:
            return None
        legacy = legacy_key_file()
        pem = legacy.read_text() if legacy else generate_pem()
        key = load_pem(pem, str(legacy) if legacy else "the generated VAPID key")
        candidate = VapidKey(pk=VapidKey.ONLY, private_key=encrypt(pem), public_key=_encoded_point(key))
        VapidKey.objects.bulk_create([candidate], ignore_conflicts=True)  # another process may have won
        row = VapidKey.objects.get(pk=VapidKey.ONLY)
    try:
        return decrypt(row.private_key)
    except InvalidToken:
        raise ImproperlyConfigured(
            "The stored VAPID key cannot be decrypted with this node's FIELD_ENCRYPTION_KEY: every node must "
            "have the same FIELD_ENCRYPTION_KEY (or SECRET_KEY when it is not set)"
        ) from None


def private_key():
    """The VAPID signing key of this process: VAPID_PRIVATE_KEY, else the stored one (created once)."""
    configured = settings.VAPID_PRIVATE_KEY
    if configured:
        cache_key = ("configured", configured)
    else:
        cache_key = ("stored", connection.settings_dict["NAME"], settings.FIELD_ENCRYPTION_KEY)
    with _lock:
        key = _cache.get(cache_key)
        if key is None:
            key = load_pem(configured) if configured else load_pem(stored_pem(), "the stored VAPID key")
            # A row read or written inside a transaction may yet be rolled back: keep only committed keys.
            if configured or not connection.in_atomic_block:
                _cache.clear()
                _cache[cache_key] = key
        return key


def public_key_point(key=None):
    """The 65-byte uncompressed P-256 point of the public key."""
    key = key or private_key()
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def application_server_key():
    """The public key as browsers take it (PushManager.subscribe's applicationServerKey): base64url, no padding."""
    return base64.urlsafe_b64encode(public_key_point()).rstrip(b"=").decode()
