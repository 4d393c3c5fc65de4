"""The one guarded client for posting to URLs someone gave us (webhooks; STYLE.md "Outbound calls").

https only, unless the host is allow-listed (WEBHOOK_ALLOW_HOSTS); the name is resolved at send
time and every address checked against private, loopback, link-local and other non-public ranges,
and the connection goes to the address that was checked (a DNS answer cannot change in between);
no redirects are followed; a timeout; at most `max_response` bytes of the answer are read.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2000


class Refused(ValueError):
    """The URL may not be called: its message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (a name or an address), lower case, without brackets
    port: int
    path: str  # path and query


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (connection failed, timeout)
    body: bytes = b""
    error: str = ""

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300


def parse(url, *, allow_hosts=()):
    """The URL's Target, or Refused: http(s) with a host, and https unless the host is allow-listed."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Refused(f"the URL must be 1–{MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise Refused("the URL must not contain white space or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("the URL cannot be read") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http"):
        raise Refused("the URL must be https")
    if not host:
        raise Refused("the URL must have a host")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL must not carry a user name or password")
    allowed = host in allow_hosts
    if scheme == "http" and not allowed:
        raise Refused("the URL must be https")
    literal = _address(host)
    if literal is not None and not allowed and not is_public(literal):
        raise Refused("the URL's address is not public")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _address(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address):
    """A globally routable unicast address (not private, loopback, link-local, multicast or reserved)."""
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(target, *, allow_hosts=()):
    """The addresses to connect to: every one public unless the host is allow-listed; Refused otherwise."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the URL's host cannot be resolved ({exc.__class__.__name__})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if target.host not in allow_hosts:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise Refused("the URL's host resolves to an address that is not public")
    if not addresses:
        raise Refused("the URL's host has no address")
    return addresses


def check(url, *, allow_hosts=()):
    """At save time: Refused unless the URL may be called now (its name resolved and checked too)."""
    target = parse(url, allow_hosts=allow_hosts)
    resolve(target, allow_hosts=allow_hosts)
    return target


class _Pinned:
    """http.client connections to an address already checked, with the URL's host for Host and TLS (SNI)."""

    def __init__(self, address, target, timeout, context):
        self.address, self.target, self.timeout, self.context = address, target, timeout, context

    def open(self):
        if self.target.scheme == "https":
            connection = http.client.HTTPSConnection(self.target.host, self.target.port, timeout=self.timeout,
                                                     context=self.context)
        else:
            connection = http.client.HTTPConnection(self.target.host, self.target.port, timeout=self.timeout)
        address, port, timeout = self.address, self.target.port, self.timeout

        def connect():
            sock = socket.create_connection((address, port), timeout)
            if connection.__class__ is http.client.HTTPSConnection:
                sock = connection._context.wrap_socket(sock, server_hostname=self.target.host)
            connection.sock = sock

        connection.connect = connect
        return connection


def post(url, body, *, headers=None, allow_hosts=(), timeout=10.0, max_response=65536, ssl_context=None):
    """POSTs `body` (bytes); returns an Answer (never raises for the network or the answer; Refused for the URL).

    A 3xx is returned as it is: redirects are not followed.
    """
    target = parse(url, allow_hosts=allow_hosts)
    addresses = resolve(target, allow_hosts=allow_hosts)
    context = ssl_context or ssl.create_default_context()
    last_error = ""
    for address in addresses:
        connection = _Pinned(address, target, timeout, context).open()
        try:
            connection.request("POST", target.path, body=body, headers={"Content-Length": str(len(body)),
                                                                         **(headers or {})})
            response = connection.getresponse()
            return Answer(response.status, response.read(max_response))
        except (OSError, http.client.HTTPException) as exc:
            last_error = f"{exc.__class__.__name__}: {exc}"[:300]
            if isinstance(exc, (TimeoutError, socket.timeout)):
                return Answer(None, error="timeout")
        finally:
            connection.close()
    return Answer(None, error=last_error or "no connection")
