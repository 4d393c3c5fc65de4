"""Django's Redis cache, keeping one redis.Redis client per connection pool, behind a circuit breaker.

Django builds a new redis.Redis object for every cache operation; with redis-py 8 that
construction cost more than the round trip itself (about 0.15 ms of CPU), and the send
path makes two cache calls per request.

A frozen Redis (SIGSTOP, a stuck host) accepts connections and never answers: every call would
wait its full timeout. After one call fails, the breaker makes every Redis call of this process
fail at once for REDIS_BREAKER_SECONDS; the callers already fail open (rate limits skipped, the
sweep delivers what could not be nudged).
"""

import logging
import threading
import time

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient

logger = logging.getLogger(__name__)


class RedisSkipped(redis.exceptions.ConnectionError):
    """Raised instead of calling Redis while the breaker is open."""


class CircuitBreaker:
    def __init__(self):
        self.open_until = 0.0
        self._lock = threading.Lock()

    def closed(self):
        return time.monotonic() >= self.open_until

    def trip(self, exc=None):
        with self._lock:
            was_closed = self.closed()
            self.open_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS
        if was_closed:
            logger.warning("Redis failed (%s); skipping it for %.0f s", exc.__class__.__name__ if exc else "error",
                           settings.REDIS_BREAKER_SECONDS)

    def reset(self):
        self.open_until = 0.0


redis_breaker = CircuitBreaker()


def redis_usable():
    """False while the breaker is open: the send path then skips Redis altogether."""
    return redis_breaker.closed()


class BreakerRedis(redis.Redis):
    def execute_command(self, *args, **options):
        if not redis_breaker.closed():
            raise RedisSkipped("Redis skipped for a few seconds after a failure")
        try:
            return super().execute_command(*args, **options)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            redis_breaker.trip(exc)
            raise


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._client = BreakerRedis
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient


def round_trip(client, commands):
    """Sends `commands` ([(name, *args)]) down one of `client`'s pooled connections and reads every reply: one
    round trip, as a pipeline makes, without a Pipeline's bookkeeping (the send path's nudge, messaging/queueing.py).

    Replies come as the connection reads them (no response callbacks: SET answers b"OK" or None); an error reply
    raises. A connection that failed mid-way is dropped, so no reply is left unread on it. Not through
    BreakerRedis.execute_command: the caller checks redis_usable() first and trips the breaker on a failure.
    """
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
