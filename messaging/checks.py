"""Configuration checks that read the apps' data or windows (kilopush.W001, W020); the rest: kilopush/checks.py."""

from django.conf import settings
from django.core import checks


@checks.register("kilopush")
def check_logos_need_site_url(app_configs=None, **kwargs):
    if settings.SITE_URL:
        return []  # kilopush/checks.py checks SITE_URL itself
    from django.db import DatabaseError

    from channels_app.models import Channel

    try:
        with_logos = Channel.objects.exclude(logo="").exists()
    except DatabaseError:
        return []  # unreachable or not migrated: kilopush.W011 says so
    if not with_logos or settings.MEDIA_URL.startswith(("http://", "https://")):
        return []
    return [checks.Warning(
        "Channels have logos but SITE_URL is not set: pushes go out without images and the API without logo URLs",
        hint="Set SITE_URL to this server's public address, e.g. https://push.example.org",
        id="kilopush.W001",
    )]


@checks.register("kilopush")
def check_retention(app_configs=None, **kwargs):
    from stats_app.selectors import STATS_DAYS as ADMIN_STATS_DAYS  # the admin statistics' window

    if 0 < settings.DELIVERY_RETENTION_DAYS < ADMIN_STATS_DAYS:
        return [checks.Warning(
            f"DELIVERY_RETENTION_DAYS={settings.DELIVERY_RETENTION_DAYS} is shorter than the admin statistics' "
            f"window of {ADMIN_STATS_DAYS} days: their delivery figures will miss the older days",
            hint=f"Set DELIVERY_RETENTION_DAYS to {ADMIN_STATS_DAYS} or more.",
            id="kilopush.W020",
        )]
    return []
