"""Checks of a send request's body that hostile clients made necessary (issue 16, items 4 and 10).

Kept apart from the decoding itself so each rule has one home:
- a charset must name a text encoding (Python also knows rot13, zlib, hex, base64, ...);
- JSON nesting is bounded by the parser: too deep is 4000, not a RecursionError;
- `to`, `token` and `secret` may be given once (a second value is a sign of smuggling): 4005;
- fields carry no lone surrogates (JSON's "\\udfff" escapes; UTF-8 cannot hold them): 4005;
- a url parses as http(s) with a host: a DNS name (single-label LAN names included), IPv4 or [IPv6].
"""

import codecs
import ipaddress
import json
import re
from urllib.parse import urlsplit

from kilopush.errors import InvalidHeaders, InvalidValue

UNIQUE_FIELDS = ("to", "token", "secret")


def text_codec(charset):
    """The codec name for `charset`, or 4000 if it is unknown or not a text encoding."""
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):
        raise InvalidHeaders(f"Unknown charset {charset!r}") from None
    if not getattr(info, "_is_text_encoding", True) or info.name in ("undefined",):
        raise InvalidHeaders(f"{charset!r} is not a text charset")
    return info.name


def decode_text(body, charset):
    """bytes -> str in a text charset; 4000 on any decoding failure."""
    codec = text_codec(charset)
    try:
        return body.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        raise InvalidHeaders(f"The body is not valid {charset}") from None


def _pairs_once(pairs):
    """object_pairs_hook: a dict, remembering keys given twice (checked once the JSON has parsed)."""
    data, repeated = {}, []
    for key, value in pairs:
        if key in data:
            repeated.append(key)
        data[key] = value
    if repeated:
        return _RepeatedKeys(data, repeated)
    return data


class _RepeatedKeys(dict):
    def __init__(self, data, repeated):
        super().__init__(data)
        self.repeated = repeated


def loads_json(text):
    """The JSON body; 4000 if malformed or nested too deeply, 4005 for a repeated to/token/secret."""
    try:
        data = json.loads(text, object_pairs_hook=_pairs_once)
    except RecursionError:
        raise InvalidHeaders("The body is nested too deeply") from None
    except ValueError:
        raise InvalidHeaders("The body is not valid JSON") from None
    if isinstance(data, _RepeatedKeys):
        refuse_repeated(data.repeated)
        data = dict(data)
    return data


def refuse_repeated(keys):
    for key in UNIQUE_FIELDS:
        if key in keys:
            raise InvalidValue(f"{key} must be given once")


def refuse_surrogates(field, value):
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidValue(f"{field} contains an invalid character (a lone surrogate)")


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _host_ok(host):
    if host.startswith("["):
        if not host.endswith("]"):
            return False
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    if not host:
        return False
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return False
    labels = ascii_host[:-1].split(".") if ascii_host.endswith(".") else ascii_host.split(".")
    return all(_LABEL.fullmatch(label) for label in labels)


def url_problem(value):
    """Why `value` is not an http(s) URL with a host, or None."""
    if any(ch.isspace() or ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        return "url must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not 0-65535)
    except ValueError:
        return "url is not a valid URL"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "url must be an http:// or https:// URL"
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    else:
        host = host.partition(":")[0]
    if not _host_ok(host):
        return "url must name a host (a name, an IPv4 address or a [IPv6] address)"
    return None


# The OpenAPI pattern of what url_problem accepts, less what the schema cannot say well:
# IPv6 literals and non-ASCII (IDN) host names are accepted too.
_LABEL_PATTERN = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_PORT_PATTERN = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
URL_PATTERN = (
    r"^$|^[Hh][Tt][Tt][Pp][Ss]?://([^\s/?#@\[\]\u0000-\u001f\u007f-\u009f]*@)?"
    rf"{_LABEL_PATTERN}(\.{_LABEL_PATTERN})*\.?(:{_PORT_PATTERN}?)?"
    r"([/?#][^\s\u0000-\u001f\u007f-\u009f]*)?$"
)
