"""Reads for the staff statistics page (/admin/stats/): each figure is one query (GROUP BY)."""

import datetime

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate

from channels_app.models import Channel, ChannelDailyCount
from channels_app.quota import LIMITED_CHANNELS, utc_today
from messaging.models import Delivery, Message
from users_app.models import RECEIVES_PUSHES, AppUser, Device

STATS_DAYS = 14
# Deliveries that reached an outcome: the denominator of the dead-token rate.
FINISHED_STATES = (Delivery.ACCEPTED, Delivery.INVALID_TOKEN, Delivery.REJECTED, Delivery.EXPIRED)


def utc_day_start(day):
    return datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc)


def messages_per_day(*, now, days=STATS_DAYS):
    """[(date, accepted messages)] for the last `days` UTC days, oldest first, today last."""
    today = utc_today(now)
    first = today - datetime.timedelta(days=days - 1)
    rows = (
        Message.objects.filter(created_at__gte=utc_day_start(first))
        .annotate(day=TruncDate("created_at", tzinfo=datetime.timezone.utc))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    counts = dict(rows)
    days_list = [first + datetime.timedelta(days=i) for i in range(days)]
    return [(day, counts.get(day, 0)) for day in days_list]


def deliveries_by_state_and_platform(*, now, days=STATS_DAYS):
    """{platform: {state: count}} for deliveries created in the last `days` UTC days."""
    since = utc_day_start(utc_today(now) - datetime.timedelta(days=days - 1))
    rows = (
        Delivery.objects.filter(created_at__gte=since)
        .values_list("device__platform", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    table = {}
    for platform, state, n in rows:
        table.setdefault(platform, {})[state] = n
    return table


def dead_token_rate_by_platform(by_state_and_platform):
    """{platform: (invalid-token deliveries, finished deliveries, rate 0..1)} from the table above."""
    rates = {}
    for platform, states in by_state_and_platform.items():
        finished = sum(states.get(state, 0) for state in FINISHED_STATES)
        dead = states.get(Delivery.INVALID_TOKEN, 0)
        rates[platform] = (dead, finished, dead / finished if finished else 0.0)
    return rates


def top_channels(*, now, days=STATS_DAYS, limit=10):
    """[(channel, messages in the last `days` UTC days)], most first."""
    since = utc_day_start(utc_today(now) - datetime.timedelta(days=days - 1))
    rows = list(
        Message.objects.filter(created_at__gte=since)
        .values("channel")
        .annotate(n=Count("id"))
        .order_by("-n", "channel")
        .values_list("channel", "n")[:limit]
    )
    channels = Channel.objects.select_related("owner").in_bulk([channel_id for channel_id, _ in rows])
    return [(channels[channel_id], n) for channel_id, n in rows if channel_id in channels]


def channels_near_limit(*, now, ratio=None, limit=20):
    """Unverified channels that used at least `ratio` of today's daily limit, fullest first."""
    ratio = settings.ADMIN_NEAR_LIMIT_RATIO if ratio is None else ratio
    threshold = max(int(settings.CHANNEL_DAILY_LIMIT * ratio), 1)
    return list(
        ChannelDailyCount.objects.filter(day=utc_today(now), count__gte=threshold,
                                         **{f"channel__{k}": v for k, v in LIMITED_CHANNELS.items()})
        .select_related("channel", "channel__owner")
        .order_by("-count", "channel_id")[:limit]
    )


def app_user_totals():
    return {
        "users": AppUser.objects.count(),
        "active_devices": Device.objects.filter(RECEIVES_PUSHES).count(),  # as had_devices counts them
        "channels": Channel.objects.count(),
    }
