import re
from dataclasses import dataclass

from django.db import connection

from kilopush import crypto, media
from users_app.models import AppUser, BlacklistEntry

from .models import Channel, SendKey
from . import quota


def channel_by_token(token):
    return Channel.objects.select_related("owner").filter(token=token).first()


@dataclass(frozen=True)
class SendContext:
    """Everything a send needs to decide, read in one query."""

    channel_id: int
    secret_digest: str
    channel_verified: bool
    channel_blocked: bool
    owner_blocked: bool
    recipient_id: int | None
    recipient_blocked: bool
    blacklisted: bool


def send_context_sql(*, by_key=False):
    """The SELECT behind channel_send_context, named parameters %(to)s and %(token)s, SendContext's columns.

    `by_key`: the channel and recipient of the send key whose digest is %(digest)s instead; its
    `secret_digest` column is that digest, so the caller's secret check holds by construction.
    Also a part of the send's one statement on PostgreSQL (messaging/services.py).
    """
    channel = Channel._meta.db_table
    user = AppUser._meta.db_table
    blacklist = BlacklistEntry._meta.db_table
    columns = f"""
SELECT c.id AS channel_id, {"k.digest" if by_key else "c.secret_digest"} AS secret_digest,
       c.is_verified AS channel_verified, c.is_blocked AS channel_blocked,
       o.is_blocked AS owner_blocked, r.id AS recipient_id, r.is_blocked AS recipient_blocked,
       EXISTS (SELECT 1 FROM {blacklist} b WHERE b.user_id = r.id AND b.channel_id = c.id) AS blacklisted"""
    if by_key:
        return f"""{columns}
FROM {SendKey._meta.db_table} k
JOIN {channel} c ON c.id = k.channel_id
JOIN {user} o ON o.id = c.owner_id
JOIN {user} r ON r.id = k.recipient_id
WHERE k.digest = %(digest)s
"""
    return f"""{columns}
FROM {channel} c
JOIN {user} o ON o.id = c.owner_id
LEFT JOIN {user} r ON r.token = %(to)s
WHERE c.token = %(token)s
"""


def send_context_from_row(row):
    """A SendContext from send_context_sql()'s columns (None for no row, or a row without a channel)."""
    if row is None or row[0] is None:
        return None
    return SendContext(
        channel_id=row[0],
        secret_digest=row[1],
        channel_verified=bool(row[2]),
        channel_blocked=bool(row[3]),
        owner_blocked=bool(row[4]),
        recipient_id=row[5],
        recipient_blocked=bool(row[6]),
        blacklisted=bool(row[7]),
    )


def channel_send_context(*, channel_token=None, recipient_token=None, key_digest=None):
    """The channel (with its owner) named by channel_token and the recipient, or None if no such channel;
    with `key_digest`, those of that send key (None for an unknown or revoked key)."""
    with connection.cursor() as cursor:
        cursor.execute(send_context_sql(by_key=key_digest is not None),
                       {"to": recipient_token, "token": channel_token, "digest": key_digest})
        return send_context_from_row(cursor.fetchone())


def send_keys_of(channel):
    return SendKey.objects.filter(channel=channel).select_related("recipient").order_by("id")


def send_key_touch_sql():
    """Marks the send key whose digest is %(digest)s used at %(now)s (at most once a minute: no write per send)."""
    return f"""
UPDATE {SendKey._meta.db_table} SET last_used_at = %(now)s
WHERE digest = %(digest)s AND (last_used_at IS NULL OR last_used_at < %(now)s - INTERVAL '1 minute')"""


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
