"""The server's VAPID key (RFC 8292): VAPID_PRIVATE_KEY, or one generated once under KILOPUSH_VAR_DIR.

The generated key is written to a temporary file and hard-linked into place, so when the web
process and a worker start together exactly one key wins and both use it.
"""

import base64
import os
import tempfile
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

GENERATED_KEY_NAME = "vapid-private-key.pem"

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


def generated_pem(var_dir):
    """The key under var_dir, created by whichever process comes first (never two different keys)."""
    path = Path(var_dir) / GENERATED_KEY_NAME
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vapid-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:  # mkstemp: mode 0600
            f.write(generate_pem())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails if another process linked its key first
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text()


def private_key():
    """The VAPID signing key of this process (read or generated once)."""
    configured = settings.VAPID_PRIVATE_KEY
    cache_key = ("configured", configured) if configured else ("generated", str(settings.VAR_DIR))
    with _lock:
        key = _cache.get(cache_key)
        if key is None:
            if configured:
                key = load_pem(configured)
            else:
                key = load_pem(generated_pem(settings.VAR_DIR), f"{settings.VAR_DIR / GENERATED_KEY_NAME}")
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
