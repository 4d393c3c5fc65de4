from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from users_app.models import AppUser, BlacklistEntry

from .models import Channel, ChannelDailyCount
from .services import utc_today


def channel_by_token(token):
    return Channel.objects.select_related("owner").filter(token=token).first()


def channel_sent_today(*, channel, now):
    row = ChannelDailyCount.objects.filter(channel=channel, day=utc_today(now)).values_list("count", flat=True).first()
    return row or 0


def channel_daily_limit(channel):
    return None if channel.is_verified else settings.CHANNEL_DAILY_LIMIT


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


def _send_context_sql():
    channel = Channel._meta.db_table
    user = AppUser._meta.db_table
    blacklist = BlacklistEntry._meta.db_table
    return f"""
SELECT c.id, c.secret_digest, c.is_verified, c.is_blocked, o.is_blocked, r.id, r.is_blocked,
       EXISTS (SELECT 1 FROM {blacklist} b WHERE b.user_id = r.id AND b.channel_id = c.id)
FROM {channel} c
JOIN {user} o ON o.id = c.owner_id
LEFT JOIN {user} r ON r.token = %s
WHERE c.token = %s
"""


def channel_send_context(*, channel_token, recipient_token):
    """The channel (with its owner) named by channel_token and the recipient, or None if no such channel."""
    with connection.cursor() as cursor:
        cursor.execute(_send_context_sql(), [recipient_token, channel_token])
        row = cursor.fetchone()
    if row is None:
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
