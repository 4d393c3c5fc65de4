"""Prometheus metrics (prometheus_client in multiprocess mode) and the GET /metrics endpoint.

Every process (gunicorn workers, celery workers, the stream process) writes its values to
files under PROMETHEUS_MULTIPROC_DIR (settings.py sets it before this module is imported);
a scrape of any web process adds them up. The family names below are fixed: the Grafana
dashboard under deploy/ and docs/operations.md rely on them.
"""

import collections
import hmac
import ipaddress
import os
import re

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

from kilopush.errors import envelope
from kilopush.net import client_ip

# --- the families ------------------------------------------------------------------------

SENDS = Counter("kilopush_sends", "Answers of the send API, by envelope status", ["status"])
SEND_DURATION = Histogram(
    "kilopush_send_duration_seconds",
    "Time the send API took to answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
MESSAGES_ACCEPTED = Counter(
    "kilopush_messages_accepted", "Messages accepted by the send API, by the channel's verification", ["verification"]
)
DELIVERIES = Counter(
    "kilopush_deliveries",
    "Delivery attempts by platform and outcome (accepted, invalid_token, rejected, expired, retry)",
    ["platform", "outcome"],
)
ACCEPT_TO_PROVIDER = Histogram(
    "kilopush_accept_to_provider_seconds",
    "From the send API accepting a message to the provider accepting its push",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)
DUE_DELIVERIES = Gauge(
    "kilopush_due_deliveries", "Deliveries queued and due now (sampled by beat)", multiprocess_mode="mostrecent"
)
RETRIES = Counter("kilopush_delivery_retries", "Deliveries put back in the queue for a retry", ["platform"])
WEBHOOK_ATTEMPTS = Counter(
    "kilopush_webhook_attempts", "Webhook POSTs (issue 24), by outcome: delivered, retry, failed, refused", ["outcome"]
)
DEVICES_DEACTIVATED = Counter(
    "kilopush_devices_deactivated", "Devices deactivated because the provider called their token dead", ["platform"]
)
PROVIDER_ERRORS = Counter(
    "kilopush_provider_errors", "Pushes a provider did not accept, by the provider's error code", ["platform", "code"]
)
STREAMS_OPEN = Gauge("kilopush_streams_open", "Live event streams open now", multiprocess_mode="livesum")

# The send path pre-binds its children: one dict lookup instead of labels() per request.
_SEND_STATUS = {}
_ACCEPTED = {True: MESSAGES_ACCEPTED.labels("verified"), False: MESSAGES_ACCEPTED.labels("unverified")}
_observe_send = SEND_DURATION.observe


def start_families(*, platforms, statuses):
    """Creates every known label set at 0, so each family is exported (and graphs start at 0) before its first event."""
    for status in statuses:
        _SEND_STATUS.setdefault(status, SENDS.labels(str(status)))
    for platform in platforms:
        for outcome in set(_OUTCOMES.values()):
            DELIVERIES.labels(platform, outcome)
        ACCEPT_TO_PROVIDER.labels(platform)
        RETRIES.labels(platform)
        DEVICES_DEACTIVATED.labels(platform)


def send_answered(status, seconds):
    """The send API answered with envelope `status` after `seconds`: one counter and one histogram."""
    child = _SEND_STATUS.get(status)
    if child is None:
        child = _SEND_STATUS[status] = SENDS.labels(str(status))
    child.inc()
    _observe_send(seconds)


def message_accepted(verified):
    _ACCEPTED[bool(verified)].inc()


_OUTCOMES = {"accepted": "accepted", "invalid_token": "invalid_token", "rejected": "rejected", "expired": "expired",
             "queued": "retry"}


def deliveries_recorded(deliveries, changes, now):
    """Counts what record() wrote: one outcome per delivery, latency of first acceptances, retries."""
    counts = collections.Counter()
    for delivery in deliveries:
        platform = delivery.device.platform
        outcome = _OUTCOMES.get(changes[delivery.pk]["state"], "other")
        counts[platform, outcome] += 1
        if outcome == "accepted":
            ACCEPT_TO_PROVIDER.labels(platform).observe(max((now - delivery.message.created_at).total_seconds(), 0))
    for (platform, outcome), count in counts.items():  # one increment per label set, not per delivery
        DELIVERIES.labels(platform, outcome).inc(count)
        if outcome == "retry":
            RETRIES.labels(platform).inc(count)


_STATUS = re.compile(r"^\d{3}$")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def error_code(reason):
    """A provider's error code out of a Result reason ("FCM 404 UNREGISTERED: ...", "APNs timeout"); bounded."""
    words = reason.split()
    if words and words[0] in ("FCM", "APNs", "WebPush", "Web"):
        words = words[1:]
    if not words:
        return "unknown"
    if _STATUS.match(words[0]):
        code = words[1].rstrip(":") if len(words) > 1 else ""
        return code if _CODE.match(code) else words[0]
    head = " ".join(words).split(":", 1)[0].strip().lower().replace(" ", "_")[:40]
    return head if _CODE.match(head) else "other"


def provider_answered(platform, results):
    for result in results:
        if result.outcome.value != "accepted":
            PROVIDER_ERRORS.labels(platform, error_code(result.reason)).inc()


def device_deactivated(platform):
    DEVICES_DEACTIVATED.labels(platform).inc()


def stream_opened():
    STREAMS_OPEN.inc()


def stream_closed():
    STREAMS_OPEN.dec()


def mark_this_process_dead(pid=None):
    """Drops the live gauges (streams open) of a process that ends; its counters stay summed."""
    multiprocess.mark_process_dead(pid or os.getpid(), settings.PROMETHEUS_MULTIPROC_DIR)


# --- GET /metrics ------------------------------------------------------------------------


def _address_allowed(request):
    networks = settings.METRICS_ALLOWED_IPS
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _bearer_ok(request):
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return False
    return hmac.compare_digest(credential.strip().encode(), settings.METRICS_TOKEN.encode())


def metrics_view(request):
    """GET /metrics: 404 unless METRICS_TOKEN is set; then Bearer METRICS_TOKEN (401) from METRICS_ALLOWED_IPS (403)."""
    if not settings.METRICS_TOKEN:
        return envelope(4004, "No such endpoint", 404)
    if not _address_allowed(request):
        return envelope(4003, "Not allowed from this address", 403)
    if not _bearer_ok(request):
        response = envelope(4001, "Authorization: Bearer <METRICS_TOKEN> required", 401)
        response["WWW-Authenticate"] = 'Bearer realm="kilopush-metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        response = envelope(4005, "Use GET", 405)
        response["Allow"] = "GET, HEAD"
        return response
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, settings.PROMETHEUS_MULTIPROC_DIR)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def webhook_attempted(outcome):
    WEBHOOK_ATTEMPTS.labels(outcome).inc()
