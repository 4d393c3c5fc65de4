"""Wake-ups over Redis pub/sub: "look now" for one user's inbox, never the data itself.

Pub/sub is at most once (a Redis restart, a dropped subscriber): a stream process finds
everything again in the database by id, so a lost wake-up costs latency, never an event.
"""

import functools
import logging

from django.conf import settings

logger = logging.getLogger(__name__)

MESSAGE = "m"  # a message was accepted for the user
EVENT = "e"  # an InboxEvent (read, deleted) was written for the user
ACCOUNT = "a"  # the user's account (its access token) changed or is gone


@functools.cache
def _channel_name(redis_url):
    from redis.connection import parse_url

    return f"kilopush:stream:{parse_url(redis_url).get('db', 0)}"


def channel_name():
    """Pub/sub channels ignore Redis database numbers: the number goes into the name."""
    return _channel_name(settings.REDIS_URL)


def payload(kind, user_id):
    return f"{kind}{user_id}"


def parse(data):
    """(kind, user id) from a payload, or None."""
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    try:
        return data[0], int(data[1:])
    except (IndexError, ValueError):
        return None


def redis_client():
    """The Redis client of Django's cache (one per connection pool, see kilopush/cache.py)."""
    from django.core.cache import cache

    return cache._cache.get_client(write=True)


def publish_in(pipe, kind, user_id):
    """Adds the wake-up to a Redis pipeline the caller executes (the send path: one round trip)."""
    pipe.publish(channel_name(), payload(kind, user_id))


def publish(kind, user_id):
    """Wakes the stream processes for this user; without Redis (embedded) they poll instead."""
    if not settings.REDIS_URL:
        return
    from kilopush.cache import redis_usable

    if not redis_usable():
        return  # Redis failed a moment ago (circuit breaker): streams find it by polling
    try:
        redis_client().publish(channel_name(), payload(kind, user_id))
    except Exception:
        logger.warning("Stream wake-up lost (Redis unavailable); streams find it by polling", exc_info=True)
