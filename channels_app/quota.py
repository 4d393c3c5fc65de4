"""The daily quota of a channel: the one place its rule is decided.

- A verified channel is unlimited; an unverified one accepts CHANNEL_DAILY_LIMIT messages per UTC day.
- A unit is taken by one atomic statement (`take_sql`), inside the transaction that stores the
  message, so a refused or failed send does not count.
- Unverified sends answer with X-RateLimit-* headers; the window resets at the next UTC midnight.
"""

import datetime

from django.conf import settings
from django.db import connection
from django.db.models import IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from .models import ChannelDailyCount

_COUNT_TABLE = ChannelDailyCount._meta.db_table


def utc_today(now):
    return now.astimezone(datetime.timezone.utc).date()


def next_utc_midnight(now):
    today = utc_today(now)
    return datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(), datetime.timezone.utc)


# --- the verified rule ---


def is_limited(*, verified):
    """Verified means unlimited."""
    return not verified


def limited_sql(verified):
    """is_limited as an SQL condition on the boolean column `verified` (a statement that decides it in the database)."""
    return f"NOT {verified}"


def daily_limit(*, verified):
    """Messages per UTC day for a channel, or None for unlimited."""
    return settings.CHANNEL_DAILY_LIMIT if is_limited(verified=verified) else None


def channel_daily_limit(channel):
    return daily_limit(verified=channel.is_verified)


LIMITED_CHANNELS = {"is_verified": False}  # the same rule as a queryset filter on Channel


# --- taking a unit ---


def take_sql(*, only_if=None, channel="%(channel)s", source=None):
    """One atomic statement taking a unit of today's quota if any is left (RETURNING count), else no row.

    Parameters: %(channel)s, %(day)s, %(limit)s (see `take_params`). `only_if`, an SQL condition, lets
    the statement take nothing at all (for example an unlimited channel inside a larger statement);
    `channel` and `source` take the channel from another part of that statement instead of %(channel)s.
    """
    if only_if is None and source is None:
        row = f"VALUES ({channel}, %(day)s, 1)"
    else:
        row = f"SELECT {channel}, %(day)s, 1" + (f" FROM {source}" if source else "") + (
            f" WHERE {only_if}" if only_if else "")
    return f"""
INSERT INTO {_COUNT_TABLE} (channel_id, day, count) {row}
ON CONFLICT (channel_id, day) DO UPDATE SET count = {_COUNT_TABLE}.count + 1
WHERE {_COUNT_TABLE}.count < %(limit)s
RETURNING count
"""


TAKE_SQL = take_sql()


def take_params(*, channel_id, now):
    return {"channel": channel_id, "day": utc_today(now), "limit": settings.CHANNEL_DAILY_LIMIT}


def channel_take_daily_quota(*, channel_id, now):
    """Counts one accepted message against today's limit; returns the count, or None if exhausted.

    Must run inside the transaction that stores the message, so a refused or
    failed send does not count.
    """
    with connection.cursor() as cursor:
        cursor.execute(TAKE_SQL, take_params(channel_id=channel_id, now=now))
        row = cursor.fetchone()
    return row[0] if row else None


# --- reading it ---


def channel_sent_today(*, channel, now):
    row = ChannelDailyCount.objects.filter(channel=channel, day=utc_today(now)).values_list("count", flat=True).first()
    return row or 0


def sent_today_annotation(*, now):
    """Today's (UTC) count of the outer Channel row, as an annotation (0 when none)."""
    today = ChannelDailyCount.objects.filter(channel=OuterRef("pk"), day=utc_today(now)).values("count")[:1]
    return Coalesce(Subquery(today, output_field=IntegerField()), Value(0))


def rate_limit_headers(*, limit, count, now):
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(limit - count, 0)),
        "X-RateLimit-Reset": str(int(next_utc_midnight(now).timestamp())),
    }
