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


def ratelimit_ip_key(group, request):
    return client_ip(request)
