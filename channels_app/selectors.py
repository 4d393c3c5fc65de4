import re

from kilopush import crypto, media

from .models import Channel, SendKey
from . import quota


def channel_by_token(token):
    return Channel.objects.select_related("owner").filter(token=token).first()


def send_keys_of(channel):
    return SendKey.objects.filter(channel=channel).select_related("recipient").order_by("id")


_TOKEN_RE = re.compile(r"c_[0-9a-f]{40}")


def channel_authenticated(*, token, secret):
    """The id of the channel whose Channel Token and Secret Key these are, else None (digests compared in constant time)."""
    row = Channel.objects.filter(token=token).values_list("id", "secret_digest").first()
    if row is None or not crypto.digests_match(secret, row[1]):
        return None
    return row[0]


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
    return media.absolute_url(channel.logo.url, request)


# --- staff admin changelist ---


def channels_for_admin(queryset, *, now):
    """Channels with `sent_today`: today's (UTC) count against the daily limit."""
    return queryset.select_related("owner").annotate(sent_today=quota.sent_today_annotation(now=now))


# --- the blacklist: channels a user refuses ---


def blacklisted_channels(user):
    return Channel.objects.filter(pk__in=user.blacklist.values("channel_id")).order_by("name", "id")


def blacklisted_channel(*, user, token):
    """The channel with this token if the user blacklisted it, else None."""
    if not is_channel_token(token):
        return None
    return blacklisted_channels(user).filter(token=token).first()
