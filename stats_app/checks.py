"""kilopush.W020: the retention of deliveries against the admin statistics' window (stats_app's own)."""

from django.conf import settings
from django.core import checks

from .selectors import STATS_DAYS as ADMIN_STATS_DAYS  # the admin statistics' window


@checks.register("kilopush")
def check_retention(app_configs=None, **kwargs):
    if 0 < settings.DELIVERY_RETENTION_DAYS < ADMIN_STATS_DAYS:
        return [checks.Warning(
            f"DELIVERY_RETENTION_DAYS={settings.DELIVERY_RETENTION_DAYS} is shorter than the admin statistics' "
            f"window of {ADMIN_STATS_DAYS} days: their delivery figures will miss the older days",
            hint=f"Set DELIVERY_RETENTION_DAYS to {ADMIN_STATS_DAYS} or more.",
            id="kilopush.W020",
        )]
    return []
