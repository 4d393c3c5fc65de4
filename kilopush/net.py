import functools
import ipaddress

from django.conf import settings


def client_ip(request):
    """The client's address: REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies append X-Forwarded-For.

    Only the entries our own proxies appended are believed; anything to their left
    was written by the client and could be spoofed.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) >= hops:
        return forwarded[-hops]
    return forwarded[0] if forwarded else remote


@functools.lru_cache(maxsize=4096)  # a pure function of the address, asked on every send
def throttle_key_of(address):
    """The address a throttle counts against: IPv4 as is, IPv6 by its /64 (one subscriber's
    network: a client can pick any of its 2^64 addresses), IPv4-mapped IPv6 as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address  # not an address (a misconfigured proxy): counted as given
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_throttle_key(request):
    return throttle_key_of(client_ip(request))


def ratelimit_ip_key(group, request):
    return client_throttle_key(request)
