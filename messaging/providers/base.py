"""The one provider interface: `send(pushes) -> list[Result]`, errors come back as data."""

import asyncio
import enum
import threading
from concurrent.futures import wait
from dataclasses import dataclass


@dataclass(frozen=True)
class Push:
    """One notification for one device, already rendered from a Delivery."""

    delivery_id: int
    token: str
    title: str  # the channel's name
    body: str  # the message text
    data: dict  # string values: message_id, channel_token, url
    important: bool | None = None  # None: alert with sound; True: time-sensitive; False: silent
    image: str = ""  # absolute URL of the channel logo, or ""
    badge: int | None = None  # APNs and Web Push: the recipient's unread count
    collapse_id: str = ""  # the message id (a replacement: the first one's): the phone shows one notification
    sandbox: bool = False  # APNs development environment
    web_keys: dict | None = None  # Web Push: the subscription's {"p256dh", "auth"} (token is its endpoint)
    created_at: str = ""  # ISO 8601, when the message was accepted (Web Push payload)
    channel_verified: bool = False  # Web Push payload
    ttl: int | None = None  # seconds left of the message's ttl at push time; None: no expiry
    data_only: bool = False  # a withdraw or dismiss: FCM data-only / APNs background / Web Push, `data` alone
    message_title: str = ""  # the sender's title, or "": shown as the title, the channel's name as the source
    attachment: str = ""  # the absolute URL of the message's image, or ""
    priority: int = 0  # -2..2: -1 is shown quietly (no sound, no heads-up), 2 is an emergency (repeated)

    @property
    def shown_title(self):
        """The notification's title: the sender's, else the channel's name."""
        return self.message_title or self.title


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    INVALID_TOKEN = "invalid_token"
    RETRY = "retry"
    REJECTED = "rejected"
    # Decided by the pipeline before any push; never returned by a provider.
    EXPIRED = "expired"  # the message's ttl ran out
    CANCELLED = "cancelled"  # the message was withdrawn, replaced or deleted


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    provider_id: str = ""
    reason: str = ""
    retry_after: float | None = None  # RETRY only: the least delay the provider asked for

    @classmethod
    def accepted(cls, provider_id=""):
        return cls(Outcome.ACCEPTED, provider_id=provider_id or "")

    @classmethod
    def invalid_token(cls, reason):
        return cls(Outcome.INVALID_TOKEN, reason=reason)

    @classmethod
    def retry(cls, reason, after=None):
        return cls(Outcome.RETRY, reason=reason, retry_after=after)

    @classmethod
    def rejected(cls, reason):
        return cls(Outcome.REJECTED, reason=reason)

    @classmethod
    def expired(cls, reason="the message's ttl ran out before the push"):
        return cls(Outcome.EXPIRED, reason=reason)

    @classmethod
    def cancelled(cls, reason):
        return cls(Outcome.CANCELLED, reason=reason)


def parse_retry_after(value):
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or unreadable."""
    if value is None or value == "":
        return None
    value = str(value).strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


class Provider:
    """Base class: subclasses set `name` and implement `send`; send never raises for a provider's answer."""

    name = "base"

    def send(self, pushes: list[Push], answered=None) -> list[Result]:  # pragma: no cover - interface
        """One Result per push, in order. `answered(index, result)`, if given, is called as each answer arrives
        (from any thread), so the pipeline records it before the slowest push of the batch is answered."""
        raise NotImplementedError

    def close(self):
        """Releases connections and threads (tests, shutdown)."""


class ThreadPoolProvider(Provider):
    """A provider whose API takes one HTTP request per push (FCM HTTP v1, Web Push), sent by a thread pool.

    Subclasses set `executor`, `timeout` (the read timeout), `connect_timeout` and `label`, and implement
    `_send_one(push) -> Result`, which never raises.
    """

    label = "push"
    connect_timeout = 5.0

    def send(self, pushes, answered=None):
        futures = [self.executor.submit(self._send_one, push) for push in pushes]
        if answered is not None:
            for index, future in enumerate(futures):
                future.add_done_callback(
                    lambda f, i=index: f.cancelled() or f.exception() is not None or answered(i, f.result()))
        # Each request is bounded by its own timeouts; this only guards a stuck queue of them.
        rounds = 1 + len(futures) // max(self.executor._max_workers, 1)
        wait(futures, timeout=(self.connect_timeout + self.timeout) * rounds + 5)
        results = []
        for future in futures:
            if future.done():
                results.append(future.result())
            elif future.cancel():
                results.append(Result.retry(f"{self.label} not sent in time"))
            else:
                results.append(Result.retry(f"{self.label} timeout"))
        return results


class LoopThread:
    """One asyncio event loop in a daemon thread, for a provider whose client is async (APNs, FCM)."""

    def __init__(self, name):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=2)
