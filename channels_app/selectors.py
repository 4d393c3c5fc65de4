import re

from django.conf import settings

from .models import Channel, ChannelDailyCount
from .services import utc_today


def channel_by_token(token):
    return Channel.objects.select_related("owner").filter(token=token).first()


def channel_sent_today(*, channel, now):
    row = ChannelDailyCount.objects.filter(channel=channel, day=utc_today(now)).values_list("count", flat=True).first()
    return row or 0


def channel_daily_limit(channel):
    return None if channel.is_verified else settings.CHANNEL_DAILY_LIMIT


_TOKEN_RE = re.compile(r"c_[0-9a-f]{40}")


def is_channel_token(value):
    return isinstance(value, str) and _TOKEN_RE.fullmatch(value) is not None


def channels_owned_by(user):
    return Channel.objects.filter(owner=user).order_by("created_at", "id")


def channel_owned_by(*, user, token):
    """The user's channel with this token, or None (also for anyone else's channel)."""
    if not is_channel_token(token):
        return None
    return Channel.objects.filter(owner=user, token=token).first()


def channel_count_of(user):
    return Channel.objects.filter(owner=user).count()


def channel_logo_url(channel, request=None):
    """Absolute URL of the channel's logo (SITE_URL, else the request's host), or None."""
    if not channel.logo:
        return None
    url = channel.logo.url
    if "://" in url:  # storage already serves absolute URLs (object storage, CDN)
        return url
    if settings.SITE_URL:
        return settings.SITE_URL + url
    if request is not None:
        return request.build_absolute_uri(url)
    return url
