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
