"""The one provider interface: `send(pushes) -> list[Result]`, errors come back as data."""

import enum
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
    collapse_id: str = ""  # the message id: a resent push replaces, never doubles, the notification
    sandbox: bool = False  # APNs development environment
    web_keys: dict | None = None  # Web Push: the subscription's {"p256dh", "auth"} (token is its endpoint)
    created_at: str = ""  # ISO 8601, when the message was accepted (Web Push payload)
    channel_verified: bool = False  # Web Push payload


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    INVALID_TOKEN = "invalid_token"
    RETRY = "retry"
    REJECTED = "rejected"


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

    def send(self, pushes: list[Push]) -> list[Result]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self):
        """Releases connections and threads (tests, shutdown)."""
