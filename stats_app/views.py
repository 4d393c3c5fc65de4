"""The admin's statistics page (/admin/stats/); staff with permission to view messages."""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from messaging.models import Delivery
from reports_app.selectors import most_reported_channels
from users_app.models import Device

from . import selectors as stats
from .charts import NARROW_WIDTH, bar_chart, column_chart, responsive

PLATFORM_NAMES = dict(Device.PLATFORMS)
STATE_NAMES = dict(Delivery.STATES)


def admin_stats(request):
    if not request.user.has_perm("messaging.view_message"):
        raise PermissionDenied
    now = timezone.now()
    per_day = stats.messages_per_day(now=now)
    by_platform = stats.deliveries_by_state_and_platform(now=now)
    dead_rates = stats.dead_token_rate_by_platform(by_platform)
    top = stats.top_channels(now=now)
    near_limit = stats.channels_near_limit(now=now)

    states = [state for state, _ in Delivery.STATES]
    delivery_rows = [
        {
            "platform": PLATFORM_NAMES.get(platform, platform),
            "counts": [counts.get(state, 0) for state in states],
            "total": sum(counts.values()),
        }
        for platform, counts in sorted(by_platform.items())
    ]
    delivery_state_totals = [
        (STATE_NAMES[state], sum(counts.get(state, 0) for counts in by_platform.values())) for state in states
    ]
    dead_rows = [
        {"platform": PLATFORM_NAMES.get(platform, platform), "dead": dead, "finished": finished, "rate": rate * 100}
        for platform, (dead, finished, rate) in sorted(dead_rates.items())
    ]
    days_points = [(date_format(day, "d M"), n) for day, n in per_day]
    days_title = _("Messages accepted per day (UTC), last %(days)s days") % {"days": stats.STATS_DAYS}
    context = {
        **admin.site.each_context(request),
        "title": _("Statistics"),
        "days": stats.STATS_DAYS,
        "today_count": per_day[-1][1],
        "period_count": sum(n for _, n in per_day),
        "totals": stats.app_user_totals(),
        "per_day_chart": responsive(
            column_chart(days_points, title=days_title, width=700),
            column_chart(days_points, title=days_title, width=NARROW_WIDTH, label_every=3),
        ),
        "state_names": [STATE_NAMES[state] for state in states],
        "delivery_rows": delivery_rows,
        "delivery_chart": _bars(delivery_state_totals, title=_("Deliveries by state")),
        "dead_rows": dead_rows,
        "dead_chart": _bars(
            [(row["platform"], round(row["rate"], 1)) for row in dead_rows],
            title=_("Dead-token rate per platform"),
            unit="%",
            max_value=100,
        ),
        "top_channels": top,
        "top_chart": _bars([(channel.name, n) for channel, n in top], title=_("Top channels by volume")),
        "near_limit": near_limit,
        "most_reported": most_reported_channels(),
        "daily_limit": settings.CHANNEL_DAILY_LIMIT,
        "near_limit_percent": round(settings.ADMIN_NEAR_LIMIT_RATIO * 100),
    }
    return TemplateResponse(request, "admin/kilopush_stats.html", context)


def _bars(items, **options):
    """A bar chart, wide and narrow (a narrower label column, labels cut at 16 characters)."""
    return responsive(bar_chart(items, **options),
                      bar_chart(items, **options, width=NARROW_WIDTH, label_width=110, label_chars=16))
