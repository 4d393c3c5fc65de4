"""What a Web Push subscription must be before it is stored: the SSRF guard and the key checks.

The endpoint is where our workers will POST, so it must be https:// on a push service named in
WEBPUSH_ENDPOINT_HOSTS ("*.example.com" matches its subdomains), on port 443 unless the entry names
another ("127.0.0.1:8704"). The keys must be able to encrypt (RFC 8291): p256dh an uncompressed P-256
point, auth 16 bytes.
"""

import base64
import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from kilopush.errors import InvalidValue

MAX_ENDPOINT_LENGTH = 4096
HTTPS_PORT = 443
_BASE64URL = re.compile(r"^[A-Za-z0-9_\-+/]+={0,2}$")


@dataclass(frozen=True)
class WebSubscription:
    endpoint: str
    p256dh: str
    auth: str


@functools.lru_cache(maxsize=256)
def _host_and_port(pattern):
    """("host" or "*.suffix", port) of a WEBPUSH_ENDPOINT_HOSTS entry; port 443 unless it names one."""
    try:
        parts = urlsplit("//" + pattern.strip().lower())
        return (parts.hostname or "").rstrip("."), parts.port or HTTPS_PORT
    except ValueError:  # not a host[:port]: matches nothing
        return "", None


def host_allowed(host, patterns=None, port=HTTPS_PORT):
    """Whether host:port is one of the patterns ("*.suffix" matching any subdomain of suffix).

    A pattern without a port allows 443 only: a push service on another port must be listed with it
    ("127.0.0.1:8704"), so an endpoint cannot aim our POSTs at another service on the same host.
    """
    host = (host or "").lower().rstrip(".")
    if not host:
        return False
    for pattern in settings.WEBPUSH_ENDPOINT_HOSTS if patterns is None else patterns:
        allowed_host, allowed_port = _host_and_port(pattern)
        if not allowed_host or port != allowed_port:
            continue
        if allowed_host.startswith("*."):
            if host.endswith(allowed_host[1:]):
                return True
        elif host == allowed_host:
            return True
    return False


def endpoint_host_allowed(url, patterns=None):
    """Whether a split https URL's host and port (443 if none) are on WEBPUSH_ENDPOINT_HOSTS."""
    try:
        port = url.port or HTTPS_PORT
    except ValueError:
        return False
    return host_allowed(url.hostname, patterns, port)


def endpoint_allowed(endpoint):
    """None if the workers may POST to endpoint, else why not."""
    if not isinstance(endpoint, str) or not endpoint:
        return "endpoint is required"
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        return f"endpoint must be at most {MAX_ENDPOINT_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in endpoint):
        return "endpoint must not contain spaces or control characters"
    try:
        url = urlsplit(endpoint)
        url.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "endpoint is not a URL"
    if url.scheme != "https":
        return "endpoint must be https://"
    if url.username is not None or url.password is not None:
        return "endpoint must not contain credentials"
    if not endpoint_host_allowed(url):
        return "endpoint is not on a known Web Push service (WEBPUSH_ENDPOINT_HOSTS, port 443 unless listed)"
    return None


def _decode(value):
    if not isinstance(value, str) or not _BASE64URL.match(value):
        return None
    text = value.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:  # binascii.Error: a length no base64 text has
        return None


def _normalized(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def web_subscription(subscription):
    """The checked subscription (PushSubscription.toJSON()); raises InvalidValue (400/4005), storing nothing."""
    if not isinstance(subscription, dict):
        raise InvalidValue("subscription: must be an object with endpoint and keys")
    problem = endpoint_allowed(subscription.get("endpoint"))
    if problem:
        raise InvalidValue(f"subscription: {problem}")
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise InvalidValue("subscription: keys must be an object with p256dh and auth")
    p256dh = _decode(keys.get("p256dh"))
    if p256dh is None or len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidValue("subscription: keys.p256dh must be an uncompressed P-256 point (base64url, 65 bytes)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise InvalidValue("subscription: keys.p256dh is not a point on P-256") from None
    auth = _decode(keys.get("auth"))
    if auth is None or len(auth) != 16:
        raise InvalidValue("subscription: keys.auth must be 16 bytes (base64url)")
    return WebSubscription(endpoint=subscription["endpoint"], p256dh=_normalized(p256dh), auth=_normalized(auth))
