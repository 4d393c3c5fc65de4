"""The one guarded client for posting to URLs someone gave us (webhooks; STYLE.md "Outbound calls").

https only, unless the host is allow-listed (WEBHOOK_ALLOW_HOSTS); the name is resolved at send
time and every address checked against private, loopback, link-local and other non-public ranges,
and the connection goes to the address that was checked (a DNS answer cannot change in between);
no redirects are followed; a timeout; at most `max_response` bytes of the answer are read.

A `Client` keeps one connection per checked address open for a batch of posts (a worker's pass over due
webhook events): a host's name is resolved and checked once per client, and a connection is reused only
while the server keeps it alive and every answer was read whole.
"""

import functools
import http.client
import ipaddress
import re
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


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")  # \s: what str.isspace() calls white space


def parse(url, *, allow_hosts=()):
    """The URL's Target, or Refused: http(s) with a host, and https unless the host is allow-listed."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Refused(f"the URL must be 1–{MAX_URL} characters")
    if _SPACE_OR_CONTROL.search(url):
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
            # As http.client's own connect() does: it writes a request's head and body apart, and with Nagle's
            # algorithm the body waited for the receiver's delayed ACK, 40 ms per POST on a kept connection.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if connection.__class__ is http.client.HTTPSConnection:
                sock = connection._context.wrap_socket(sock, server_hostname=self.target.host)
            connection.sock = sock

        connection.connect = connect
        return connection


@functools.cache
def default_ssl_context():
    """The system's trust store, loaded once per process (loading it cost more than a webhook's whole POST)."""
    return ssl.create_default_context()


def post(url, body, *, headers=None, allow_hosts=(), timeout=10.0, max_response=65536, ssl_context=None):
    """POSTs `body` (bytes); returns an Answer (never raises for the network or the answer; Refused for the URL).

    A 3xx is returned as it is: redirects are not followed. One connection, closed after the answer.
    """
    with Client(allow_hosts=allow_hosts, timeout=timeout, max_response=max_response, ssl_context=ssl_context) as client:
        return client.post(url, body, headers=headers)


# A kept connection the server closed meanwhile fails like this before any answer: the POST is sent again once,
# on a new connection (a webhook's receiver tells a repeat by its webhook-id).
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class Client:
    """Posts through the guard, keeping connections to checked addresses open between posts (see the module)."""

    def __init__(self, *, allow_hosts=(), timeout=10.0, max_response=65536, ssl_context=None):
        self.allow_hosts, self.timeout, self.max_response = allow_hosts, timeout, max_response
        self.ssl_context = ssl_context
        self._addresses = {}  # (host, port): the checked addresses, or the Refused
        self._open = {}  # (scheme, host, port, address): a connection the server kept alive

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        for connection in self._open.values():
            connection.close()
        self._open.clear()

    def _resolved(self, target):
        key = (target.host, target.port)
        if key not in self._addresses:
            try:
                self._addresses[key] = resolve(target, allow_hosts=self.allow_hosts)
            except Refused as exc:
                self._addresses[key] = exc
        found = self._addresses[key]
        if isinstance(found, Refused):
            raise found
        return found

    def post(self, url, body, *, headers=None):
        """Like post(): an Answer, or Refused for the URL."""
        target = parse(url, allow_hosts=self.allow_hosts)
        addresses = self._resolved(target)
        context = self.ssl_context or (default_ssl_context() if target.scheme == "https" else None)
        head = {"Content-Length": str(len(body)), **(headers or {})}
        last_error = ""
        for address in addresses:
            key = (target.scheme, target.host, target.port, address)
            kept = self._open.pop(key, None)
            for connection in ((kept,) if kept is not None else ()) + (None,):
                reused = connection is not None
                if connection is None:
                    connection = _Pinned(address, target, self.timeout, context).open()
                try:
                    connection.request("POST", target.path, body=body, headers=head)
                    response = connection.getresponse()
                    content = response.read(self.max_response)
                    if response.will_close or not response.isclosed():
                        connection.close()  # the server ends it, or more answer is left than we read
                    else:
                        self._open[key] = connection
                    return Answer(response.status, content)
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    if reused and isinstance(exc, _STALE):
                        continue
                    last_error = f"{exc.__class__.__name__}: {exc}"[:300]
                    if isinstance(exc, (TimeoutError, socket.timeout)):
                        return Answer(None, error="timeout")
                    break
        return Answer(None, error=last_error or "no connection")
