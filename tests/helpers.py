"""Small helpers shared by the tests (import them; fixtures are registered in tests/conftest.py)."""

from django.utils import timezone

from channels_app.models import ChannelDailyCount
from channels_app.quota import utc_today


def status_of(response):
    """The `status` of an API envelope; the answer must be JSON (never an HTML page)."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["response"]["status"]


def fill_today(channel, count):
    """Sets the channel's count of messages today (UTC) to `count`."""
    ChannelDailyCount.objects.update_or_create(channel=channel, day=utc_today(timezone.now()), defaults={"count": count})
