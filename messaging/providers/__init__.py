"""Which provider pushes to which platform: PUSH_PROVIDER_ANDROID / PUSH_PROVIDER_IOS / PUSH_PROVIDER_WEB.

A provider whose credentials are missing is off: its platform falls back to the log
provider, and `startup_report()` says so once when a worker starts.
"""

import logging
import os
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_providers = {}
_pid = None


def missing_settings(name):
    """Settings a provider needs that are empty (an empty list means it can run)."""
    if name == "fcm":
        return [] if settings.FCM_CREDENTIALS else ["FCM_CREDENTIALS"]
    if name == "apns":
        return [s for s in ("APNS_KEY", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC") if not getattr(settings, s)]
    if name == "webpush":
        from django.core.exceptions import ImproperlyConfigured
        from django.db import DatabaseError

        from messaging import vapid

        try:
            vapid.private_key()  # configured, or the one stored in the database (created once)
        except (ImproperlyConfigured, OSError) as exc:
            return [f"a valid VAPID key ({exc})"]
        except DatabaseError:
            pass  # not reachable yet: building the provider reads the key again, and fails until it is
    return []


CHOICE_SETTINGS = {"android": "PUSH_PROVIDER_ANDROID", "ios": "PUSH_PROVIDER_IOS", "web": "PUSH_PROVIDER_WEB"}


def chosen(platform):
    """(provider name, why it was not the configured one or "") for 'android', 'ios' or 'web'."""
    name = getattr(settings, CHOICE_SETTINGS[platform])
    missing = missing_settings(name)
    if missing:
        return "log", f"{name} is off: {', '.join(missing)} not set"
    return name, ""


def _build(platform):
    name, _ = chosen(platform)
    if name == "fcm":
        from .fcm import FCMProvider

        return FCMProvider(
            credentials_file=settings.FCM_CREDENTIALS,
            endpoint=settings.FCM_ENDPOINT,
            timeout=settings.FCM_TIMEOUT,
            concurrency=settings.FCM_CONCURRENCY,
        )
    if name == "apns":
        from .apns import APNsProvider

        return APNsProvider(
            key_file=settings.APNS_KEY,
            key_id=settings.APNS_KEY_ID,
            team_id=settings.APNS_TEAM_ID,
            topic=settings.APNS_TOPIC,
            endpoint=settings.APNS_ENDPOINT,
            sandbox_endpoint=settings.APNS_SANDBOX_ENDPOINT,
            ca_file=settings.APNS_CA_FILE,
            timeout=settings.APNS_TIMEOUT,
            max_connections=settings.APNS_MAX_CONNECTIONS,
        )
    if name == "webpush":
        from messaging import vapid

        from .webpush import WebPushProvider

        return WebPushProvider(
            private_key=vapid.private_key(),
            subject=settings.VAPID_SUBJECT,
            ttl=settings.DELIVERY_MAX_AGE,  # the push service may hold it as long as we would retry
            timeout=settings.WEBPUSH_TIMEOUT,
            concurrency=settings.WEBPUSH_CONCURRENCY,
            ca_file=settings.WEBPUSH_CA_FILE,
            endpoint_hosts=settings.WEBPUSH_ENDPOINT_HOSTS,
        )
    from .log import LogProvider

    return LogProvider(platform)


def get_provider(platform):
    """The provider for 'android', 'ios' or 'web', built once per process (after a fork, anew)."""
    global _pid
    with _lock:
        if _pid != os.getpid():
            _providers.clear()  # threads and connections do not survive a fork
            _pid = os.getpid()
        provider = _providers.get(platform)
        if provider is None:
            provider = _providers[platform] = _build(platform)
        return provider


def reset():
    """Closes and forgets the providers (tests, or after changing settings)."""
    with _lock:
        for provider in _providers.values():
            try:
                provider.close()
            except Exception:
                logger.warning("Closing %s failed", provider.name, exc_info=True)
        _providers.clear()


def startup_report():
    """One line per platform: which provider pushes, and why a configured one is off."""
    lines = []
    for platform, label in (("android", "Android"), ("ios", "iOS"), ("web", "Web")):
        name, why = chosen(platform)
        if why:
            lines.append((logging.WARNING, f"{label} pushes: {why}; pushes are written to the log instead"))
        else:
            lines.append((logging.INFO, f"{label} pushes: {name}"))
    for level, line in lines:
        logger.log(level, line)
    return [line for _, line in lines]
