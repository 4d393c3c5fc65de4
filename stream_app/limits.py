"""How many streams an account and a client address hold open, across every stream process.

With Redis, each open stream is a member of two sorted sets (its account's, its address's), scored
with the time its entry expires. The process renews its streams' entries every third of
STREAM_LEASE_SECONDS, so the entries of a process that died (kill -9, a lost node) expire on their
own instead of counting forever, and a Redis restart is filled again by the next renewal.
Without Redis (embedded), one process holds every stream and counts them in memory.
"""

import asyncio
import itertools
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from django.conf import settings

from kilopush.errors import Throttled

logger = logging.getLogger(__name__)

PREFIX = "kilopush:streams:"  # keys live in REDIS_URL's database
RETRY_AFTER = 30  # seconds: a held stream is freed when its client leaves, or its entry expires
REDIS_DOWN_FOR = 5.0  # after a Redis failure, count in memory this long before trying again

# KEYS: the account's and the address's sets; ARGV: member, lease ms, then each key's cap.
# Returns 0 (admitted and counted), else the position of the first full key.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[1])
  redis.call('PEXPIRE', key, lease)
end
return 0
"""

# KEYS: sets; ARGV: lease ms, then the member for each key. Re-adds what a Redis restart lost.
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease)
end
return #KEYS
"""


@dataclass(eq=False)
class Lease:
    member: str
    account: str
    address: str


def _refusal(which, cap):
    what = "this account" if which == "account" else "this address"
    return Throttled(f"Too many open streams for {what} (at most {cap})", headers={"Retry-After": str(RETRY_AFTER)})


class StreamLimits:
    """acquire() counts a stream in (or raises 4029), release() counts it out; one per stream process."""

    def __init__(self):
        self.process = uuid.uuid4().hex[:12]
        self.sequence = itertools.count(1)
        self.leases = set()
        self.local = Counter()  # key -> streams of this process (the count without Redis)
        self.redis = None
        self.redis_down_until = 0.0
        self._tasks = set()
        if settings.REDIS_URL:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
            self._acquire = self.redis.register_script(ACQUIRE)
            self._renew = self.redis.register_script(RENEW)
            self._keep(self._renew_loop())

    async def acquire(self, *, account_id, address):
        lease = Lease(f"{self.process}:{next(self.sequence)}", f"{PREFIX}a:{account_id}", f"{PREFIX}i:{address}")
        caps = {lease.account: settings.STREAM_MAX_PER_ACCOUNT, lease.address: settings.STREAM_MAX_PER_ADDRESS}
        full = None
        if self._redis_usable():
            try:
                position = await self._acquire(
                    keys=[lease.account, lease.address],
                    args=[lease.member, int(settings.STREAM_LEASE_SECONDS * 1000), *caps.values()],
                )
                full = None if position == 0 else [lease.account, lease.address][position - 1]
            except Exception as exc:
                self._redis_failed(exc)
                full = self._local_full(caps)
        else:
            full = self._local_full(caps)
        if full is not None:
            raise _refusal("account" if full == lease.account else "address", caps[full])
        self.local.update((lease.account, lease.address))
        self.leases.add(lease)
        return lease

    def release(self, lease):
        if lease not in self.leases:
            return
        self.leases.discard(lease)
        self.local.subtract((lease.account, lease.address))
        for key in (lease.account, lease.address):
            if self.local[key] <= 0:
                del self.local[key]
        if self.redis is not None:
            self._keep(self._forget(lease))

    def _local_full(self, caps):
        return next((key for key, cap in caps.items() if self.local[key] >= cap), None)

    def _redis_usable(self):
        return self.redis is not None and time.monotonic() >= self.redis_down_until

    def _redis_failed(self, exc):
        if time.monotonic() >= self.redis_down_until:
            logger.warning("Stream caps: Redis unreachable (%s); counting this process's streams only", exc)
        self.redis_down_until = time.monotonic() + REDIS_DOWN_FOR

    async def _forget(self, lease):
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrem(lease.account, lease.member)
                pipe.zrem(lease.address, lease.member)
                await pipe.execute()
        except Exception as exc:  # the entry expires at its lease's end
            self._redis_failed(exc)

    async def renew(self):
        """Every open stream's entries, renewed for another lease (tests call it directly)."""
        leases = list(self.leases)
        if not leases:
            return
        keys, members = [], []
        for lease in leases:
            keys += [lease.account, lease.address]
            members += [lease.member, lease.member]
        for start in range(0, len(keys), 2000):
            await self._renew(keys=keys[start:start + 2000],
                              args=[int(settings.STREAM_LEASE_SECONDS * 1000), *members[start:start + 2000]])

    async def _renew_loop(self):
        while True:
            await asyncio.sleep(settings.STREAM_LEASE_SECONDS / 3)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._redis_failed(exc)

    def _keep(self, coroutine):
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
