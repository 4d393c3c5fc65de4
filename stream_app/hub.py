"""One hub per stream process: it finds what changed in the database and hands it to the open streams.

A single poller task per process reads, in one statement, the connected users' new message ids and
inbox events above a floor. Without Redis (embedded) it polls every POLL_INTERVAL; with Redis it runs
when a wake-up arrives (pub/sub says "look now" for a user) and every SAFETY_INTERVAL anyway, so a lost
wake-up, or a Redis restart, costs latency, never an event. Ids may commit out of order (a lower id
after a higher one), so the poller re-reads LATE_COMMIT_WINDOW seconds of ids and each stream skips
what it already sent.
"""

import asyncio
import functools
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections
from django.utils.encoding import iri_to_uri
from rest_framework.renderers import JSONRenderer

from messaging import wake
from messaging.selectors import inbox_items, inbox_page
from kilopush import metrics
from kilopush.cors import stream_origins
from kilopush.errors import Throttled
from kilopush.net import client_throttle_key
from users_app.auth import AccountBlocked, refused
from users_app.selectors import app_user_by_access_token

from . import selectors
from .limits import RETRY_AFTER, StreamLimits

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # embedded, or Redis unreachable: one poll per process at most this often
SAFETY_INTERVAL = 2.0  # with Redis: a poll of every connected user (and their access tokens) this often
ACCOUNT_CHECK_INTERVAL = 2.0  # a stream whose access token died is closed within this (plus a poll)
LATE_COMMIT_WINDOW = 10.0  # seconds of ids re-read: a transaction may commit a lower id after a higher one
REPLAY_LIMIT = 100  # messages replayed on connect; more missed: `event: reset`
ABANDONED_AFTER = 30.0  # a stream opened whose response never began is dropped after this
QUEUE_LIMIT = 2000  # frames waiting for a client that does not read; then it is closed (it replays on reconnect)

CONNECTED = b": connected\n\n"
KEEPALIVE = b": keepalive\n\n"
RESET = b"event: reset\ndata: {}\n\n"
_CLOSE = object()
_NOTHING = frozenset()  # what an idle stream has seen: shared, not an empty set each (216 bytes)


def message_frame(message_id, item):
    return b"id: %d\nevent: message\ndata: %s\n\n" % (message_id, item)


def event_frame(kind, data):
    return b"event: %s\ndata: %s\n\n" % (kind.encode(), data.encode())


def render_item(message, request):
    """Exactly the inbox item of GET /v1/app/messages (same serializer, same renderer)."""
    from messaging.api import InboxMessageSerializer

    return JSONRenderer().render(InboxMessageSerializer(message, context={"request": request}).data)


def _db_job(fn, args, kwargs):
    close_old_connections()  # CONN_MAX_AGE and broken connections, as a request would
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class _SiteOrigin:
    """What the inbox serializer asks of a request (absolute logo and attachment URLs), for one origin.

    A stream keeps this instead of its request (issue 27: the request's META and headers are kilobytes,
    for hours), and the streams of one origin share one. It is also the key of the frames rendered for
    that origin (Hub.frames): equal for equal origins."""

    __slots__ = ("origin",)

    def __init__(self, origin):
        self.origin = origin

    def build_absolute_uri(self, location):
        return iri_to_uri(self.origin + location)

    def __eq__(self, other):
        return isinstance(other, _SiteOrigin) and other.origin == self.origin

    def __hash__(self):
        return hash(self.origin)


@functools.lru_cache(maxsize=256)
def _site_origin(origin):
    return _SiteOrigin(origin)


def _logo_base(request):
    """The _SiteOrigin of the stream's absolute logo URLs: a page of the site (an allowed Origin) gets its
    own origin, which serves /media/, not the stream's (make run: the stream listens on PORT + 1); else the
    request's host, as the inbox does. SITE_URL, when set, wins in channel_logo_url either way."""
    origin = request.headers.get("Origin")
    if not (origin and origin in stream_origins()):
        origin = f"{request.scheme}://{request.get_host()}"
    return _site_origin(origin)


class Stream:
    """One open stream: what it already sent, and the frames waiting for its client."""

    # Thousands per process, mostly idle: no per-instance dict (issue 27).
    __slots__ = ("hub", "user_id", "digest", "base", "after", "event_after", "seen", "seen_events",
                 "pending", "ready", "closed", "waiting", "waiter", "last_sent", "opened", "iterating", "lease")

    def __init__(self, hub, *, user_id, digest, after, request):
        self.hub, self.user_id, self.digest = hub, user_id, digest
        self.base = _logo_base(request)  # logo URLs are absolute, as in the inbox
        self.after = after  # messages with ids up to this are not sent
        self.event_after = hub.max_event
        self.seen = self.seen_events = _NOTHING  # a set of its own once something is seen
        self.pending = []  # offers before the replay is done
        self.ready = False
        self.closed = False
        self.waiting = []  # frames for the client, oldest first (a list and a future: an asyncio.Queue is 3 KB)
        self.waiter = None  # the response's future while it waits for a frame
        self.last_sent = self.opened = time.monotonic()
        self.iterating = False  # the response began; before that, its end cannot unregister it
        self.lease = None  # its place under the caps (stream_app.limits)

    def offer(self, kind, ident, frame):
        if self.closed:
            return
        if not self.ready:
            self.pending.append((kind, ident, frame))
            return
        if kind == wake.MESSAGE:
            if ident <= self.after or ident in self.seen:
                return
            self._saw(ident)
        else:
            if ident <= self.event_after or ident in self.seen_events:
                return
            if self.seen_events is _NOTHING:
                self.seen_events = set()
            self.seen_events.add(ident)
        self._put(frame)

    def wants(self, message_id):
        return not self.closed and (not self.ready or (message_id > self.after and message_id not in self.seen))

    def start(self, *, after, replay, reset):
        self.after = after
        for message_id, frame in replay:
            self._saw(message_id)
            self._put(frame)
        if reset:
            self._put(RESET)
        self.ready = True
        pending, self.pending = self.pending, []
        for offer in pending:
            self.offer(*offer)

    def _saw(self, message_id):
        if self.seen is _NOTHING:
            self.seen = set()
        self.seen.add(message_id)

    def forget_below(self, message_floor, event_floor):
        """The poller never reads at or below its floors again."""
        if len(self.seen) > 32:
            self.seen = {i for i in self.seen if i > message_floor}
        if len(self.seen_events) > 32:
            self.seen_events = {i for i in self.seen_events if i > event_floor}

    def _put(self, frame):
        if len(self.waiting) >= QUEUE_LIMIT:
            logger.warning("Stream of user %s closed: its client does not read", self.user_id)
            self.close()
            return
        self._append(frame)

    def _append(self, frame):
        self.waiting.append(frame)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self):
        if not self.closed:
            self.closed = True
            self._append(_CLOSE)

    def keepalive(self, now):
        """Called by the hub's ticker: a comment after STREAM_KEEPALIVE of silence."""
        if not self.iterating:
            if now - self.opened > ABANDONED_AFTER:  # its client left before the response began
                self.close()
                self.hub.unregister(self)
            return
        if now - self.last_sent >= settings.STREAM_KEEPALIVE and not self.waiting:
            self._put(KEEPALIVE)

    async def frames(self):
        """The response body: frames as they come (the hub adds keepalives to a silent stream)."""
        self.iterating = True
        try:
            yield CONNECTED
            while True:
                self.last_sent = time.monotonic()
                if not self.waiting:
                    self.waiter = asyncio.get_running_loop().create_future()
                    try:
                        await self.waiter
                    finally:
                        self.waiter = None
                chunks, self.waiting = self.waiting, []
                closing = _CLOSE in chunks
                if closing:
                    chunks = chunks[:chunks.index(_CLOSE)]
                if chunks:
                    yield b"".join(chunks)
                if closing:
                    return
        finally:
            self.hub.unregister(self)


class Hub:
    def __init__(self):
        self.by_user = {}  # user id -> set of Stream
        self.woken = set()
        self.account_woken = False
        self.wakeup = asyncio.Event()
        self.connected = asyncio.Event()
        self.redis_up = False
        self.history = deque()  # (monotonic time, max message id, max event id) seen by a poll
        self.max_message = self.max_event = 0
        self.frames = {}  # (message id, base) -> frame, or None for a message that is gone
        self.next_account_check = 0.0
        self._floor_lock = asyncio.Lock()
        self._poll_executor = ThreadPoolExecutor(1, thread_name_prefix="stream-poll")
        self._open_executor = ThreadPoolExecutor(4, thread_name_prefix="stream-open")
        self._tasks = [asyncio.create_task(self._poll_loop()), asyncio.create_task(self._keepalive_loop())]
        if settings.REDIS_URL:
            self._tasks.append(asyncio.create_task(self._listen()))
        self.polls = 0  # how many database polls this process made (tests, bench)
        self.limits = StreamLimits()

    async def _db(self, executor, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(_db_job, fn, args, kwargs))

    # --- streams ---

    async def authenticate(self, access_token):
        """The AppUser of a valid access token; 4001 otherwise."""
        user = await self._db(self._open_executor, app_user_by_access_token, access_token)
        if user is None:
            raise refused("Invalid access token")
        if user.is_blocked:
            raise AccountBlocked()  # 403/4023; the streams it had open close at the account check
        return user

    async def open(self, user, after, request):
        """A started Stream for the user, replaying after `after` (None: only what comes next); 4029 past a cap."""
        lease = await self.limits.acquire(account_id=user.id, address=client_throttle_key(request))
        try:
            stream = await self._register(user, after, request)
        except BaseException:
            self.limits.release(lease)
            raise
        stream.lease = lease
        try:
            # stream.base: logo URLs on the site's origin, as live frames render them (_logo_base)
            replay, reset, start_after = await self._db(self._open_executor, self._replay, user, after, stream.base)
        except BaseException:
            self.unregister(stream)
            raise
        stream.start(after=start_after, replay=replay, reset=reset)
        return stream

    async def _register(self, user, after, request):
        async with self._floor_lock:
            if self.stream_count() >= settings.STREAM_MAX_PER_PROCESS:
                raise Throttled("This stream server is full", headers={"Retry-After": str(RETRY_AFTER)})
            if not self.history:  # the first stream after an idle spell: the poller starts from now
                _, _, maxima, _ = await self._db(self._poll_executor, selectors.changes_since, user_ids=())
                self._record(time.monotonic(), maxima)
            stream = Stream(self, user_id=user.id, digest=user.access_token_digest, after=after or 0, request=request)
            self.by_user.setdefault(user.id, set()).add(stream)
            self.connected.set()
            metrics.stream_opened()
        return stream

    @staticmethod
    def _replay(user, after, request):
        if after is None:
            return [], False, selectors.latest_message_id(user.id)
        messages = inbox_page(user=user, after=after, limit=REPLAY_LIMIT + 1, oldest_first=True)
        reset = len(messages) > REPLAY_LIMIT
        replay = [(m.id, message_frame(m.id, render_item(m, request))) for m in messages[:REPLAY_LIMIT]]
        # After a reset the client re-reads its inbox: the stream goes on from the newest message.
        return replay, reset, selectors.latest_message_id(user.id) if reset else after

    def unregister(self, stream):
        stream.closed = True
        if stream.lease is not None:
            self.limits.release(stream.lease)
            stream.lease = None
        streams = self.by_user.get(stream.user_id)
        if streams is not None and stream in streams:
            metrics.stream_closed()
            streams.discard(stream)
            if not streams:
                del self.by_user[stream.user_id]
        if not self.by_user:
            self.connected.clear()
            self.history.clear()  # idle: the next stream starts the floors afresh
            self.frames.clear()

    def stream_count(self):
        return sum(len(s) for s in self.by_user.values())

    # --- wake-ups ---

    def wake(self, kind, user_id):
        if user_id in self.by_user:
            if kind == wake.ACCOUNT:
                self.account_woken = True
            self.woken.add(user_id)
            self.wakeup.set()

    async def _listen(self):
        """Redis pub/sub wake-ups; while Redis is unreachable the poller polls as in embedded mode."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        channel = wake.channel_name()
        while True:
            # No silent reconnects: a gap in the subscription must be followed by a full poll.
            client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(channel)
                if not self.redis_up:
                    logger.info("Stream wake-ups: subscribed to Redis %s", channel)
                self.redis_up = True
                self.woken.update(self.by_user)  # whatever was published while we were away
                self.wakeup.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is None:
                        await pubsub.ping()
                        continue
                    parsed = wake.parse(message["data"])
                    if parsed is not None:
                        self.wake(*parsed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.redis_up:
                    logger.warning("Stream wake-ups: Redis unreachable (%s); polling the database meanwhile", exc)
                self.redis_up = False
                self.wakeup.set()
            finally:
                try:
                    await client.aclose()
                except Exception:
                    pass
            await asyncio.sleep(0.5)

    async def _keepalive_loop(self):
        """One timer for every stream of the process, rather than one per stream."""
        interval = min(settings.STREAM_KEEPALIVE / 4, 1.0)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for streams in list(self.by_user.values()):
                for stream in list(streams):
                    if stream.ready:
                        stream.keepalive(now)

    # --- polling ---

    async def _poll_loop(self):
        last_poll = last_full = 0.0
        failing = False
        while True:
            try:
                await self.connected.wait()
                if self.redis_up:
                    timeout = last_full + SAFETY_INTERVAL - time.monotonic()
                    if timeout > 0 and not self.wakeup.is_set():
                        try:
                            await asyncio.wait_for(self.wakeup.wait(), timeout)
                        except TimeoutError:
                            pass
                else:
                    await asyncio.sleep(max(0.0, last_poll + POLL_INTERVAL - time.monotonic()))
                self.wakeup.clear()
                now = time.monotonic()
                full = not self.redis_up or now >= last_full + SAFETY_INTERVAL
                last_poll = now
                if full:
                    last_full = now
                await self._poll(full)
                if failing:
                    logger.warning("Stream poll works again")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:  # once per outage (the database down), not every 250 ms
                    logger.exception("Stream poll failed; retrying every %s s", POLL_INTERVAL)
                failing = True
                await asyncio.sleep(POLL_INTERVAL)

    def _record(self, now, maxima):
        self.max_message, self.max_event = max(self.max_message, maxima[0]), max(self.max_event, maxima[1])
        self.history.append((now, self.max_message, self.max_event))
        # Keep one entry at least LATE_COMMIT_WINDOW old: it is the floor.
        while len(self.history) > 1 and self.history[1][0] <= now - LATE_COMMIT_WINDOW:
            self.history.popleft()

    def floors(self):
        _, message_floor, event_floor = self.history[0]
        return message_floor, event_floor

    async def _poll(self, full):
        now = time.monotonic()
        if not self.by_user or not self.history:
            return
        # A wake-up's poll costs what its users need, not what the idle streams of the process hold.
        users = set(self.by_user) if full else {user_id for user_id in self.woken if user_id in self.by_user}
        self.woken = set()
        check_accounts = now >= self.next_account_check or self.account_woken
        self.account_woken = False
        if not users and not check_accounts:
            return
        if check_accounts:
            self.next_account_check = now + ACCOUNT_CHECK_INTERVAL
        message_floor, event_floor = self.floors()
        self.polls += 1
        account_ids = set(self.by_user) if check_accounts else None
        messages, events, maxima, digests = await self._db(
            self._poll_executor,
            selectors.changes_since,
            user_ids=users,
            message_floor=message_floor,
            event_floor=event_floor,
            account_ids=account_ids,
        )
        if not self.by_user:  # every stream closed meanwhile
            return
        self._record(now, maxima)

        needed = {}
        for message_id, user_id in messages:
            for stream in self.by_user.get(user_id, ()):
                if stream.wants(message_id) and (message_id, stream.base) not in self.frames:
                    needed.setdefault(stream.base, set()).add(message_id)
        if needed:
            self.frames.update(await self._db(self._poll_executor, self._render, needed))
        for message_id, user_id in messages:
            for stream in list(self.by_user.get(user_id, ())):
                frame = self.frames.get((message_id, stream.base))
                if frame is not None:
                    stream.offer(wake.MESSAGE, message_id, frame)
        for event_id, user_id, kind, data in events:
            frame = event_frame(kind, data)
            for stream in list(self.by_user.get(user_id, ())):
                stream.offer(wake.EVENT, event_id, frame)
        if digests is not None:
            for user_id in account_ids:  # not the streams opened while the query ran: they are newer
                for stream in list(self.by_user.get(user_id, ())):
                    if stream.digest not in digests.get(user_id, ()):  # account deleted (or its token revoked)
                        stream.close()

        if not self.history:  # every stream closed meanwhile
            return
        message_floor, event_floor = self.floors()
        if self.frames:
            self.frames = {key: f for key, f in self.frames.items() if key[0] > message_floor}
        for user_id in set(self.by_user) if full else users:  # only these streams were offered anything
            for stream in self.by_user.get(user_id, ()):
                stream.forget_below(message_floor, event_floor)

    @staticmethod
    def _render(needed):
        """{(message id, base): frame (None if the message is gone)} for the ids each base needs."""
        messages = {m.id: m for m in inbox_items(set().union(*needed.values()))}
        frames = {}
        for base, base_ids in needed.items():
            for message_id in base_ids:
                message = messages.get(message_id)
                frames[(message_id, base)] = (
                    None if message is None else message_frame(message_id, render_item(message, base))
                )
        return frames


_hubs = {}


def hub():
    """The hub of the running event loop (one per stream process)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs.clear()
        _hubs[loop] = Hub()
    return _hubs[loop]
