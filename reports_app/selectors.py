from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from .models import Report


def report_count_subquery(status=None):
    """Reports about the outer channel row (all, or only those in `status`), as an annotation."""
    reports = Report.objects.filter(channel=OuterRef("pk"))
    if status:
        reports = reports.filter(status=status)
    counted = reports.order_by().values("channel").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def most_reported_channels(*, since=None, limit=10):
    """[{channel_token, channel_name, channel_id, reports, open}], most reported first.

    Grouped by the copied token, so a channel whose owner deleted the account still shows.
    """
    reports = Report.objects.all()
    if since is not None:
        reports = reports.filter(created_at__gte=since)
    return list(
        reports.order_by()
        .values("channel_token")
        .annotate(
            channel_name=Max("channel_name"),
            channel_id=Max("channel_id"),
            reports=Count("id"),
            open=Count("id", filter=Q(status=Report.OPEN)),
        )
        .order_by("-reports", "channel_token")[:limit]
    )
