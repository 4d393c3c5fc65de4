"""Web Push through pywebpush: RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID.

pywebpush's WebPusher encrypts and posts through a requests session of ours: one attempt per
push (retries are the pipeline's decision), bounded timeouts, an extra CA (WEBPUSH_CA_FILE)
on top of the usual ones. The VAPID header is signed by py-vapid once per push service origin
and reused until it nears its expiry. Every answer is mapped in `result_from_response`.
"""

import json
import logging
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from users_app.subscriptions import endpoint_host_allowed

from .base import Result, ThreadPoolProvider, parse_retry_after

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 3800  # plaintext; with aes128gcm's 103 bytes it stays in one 4096-byte record
CONNECT_TIMEOUT = 5.0
JWT_LIFETIME = 12 * 3600  # RFC 8292 allows at most 24 h
JWT_RENEW_BEFORE = 3600
ELLIPSIS = "…"


def result_from_response(status_code, body, headers):
    """The one place where a push service's answers become Results."""
    if status_code in (200, 201, 202):
        return Result.accepted(headers.get("Location", ""))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    reason = f"Web Push {status_code}" + (f": {text.strip()[:200]}" if text.strip() else "")
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if 300 <= status_code < 400:
        # Never followed (it would re-post the payload elsewhere, https -> http included). Rejected, not
        # retried: RFC 8030 has no redirects, so the same endpoint would only redirect again.
        logger.warning("A Web Push service answered %s (to %s); redirects are not followed",
                       status_code, str(headers.get("Location", ""))[:200])
        return Result.rejected(f"Web Push {status_code}: redirect not followed")
    if status_code in (404, 410):
        return Result.invalid_token(reason)
    if status_code == 429 or status_code >= 500:
        return Result.retry(reason, after=retry_after)
    if status_code in (401, 403):
        # Our VAPID key or subject was refused: not the message's fault, and every push fails until fixed.
        logger.error("A Web Push service refused our VAPID credentials (%s); check VAPID_PRIVATE_KEY and "
                     "VAPID_SUBJECT", reason)
        return Result.retry(reason, after=retry_after)
    return Result.rejected(reason)


def _encoded(document):
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _shortened(text, fits):
    """The longest prefix of text (plus '…') for which fits(prefix) holds; text itself if it fits."""
    if fits(text):
        return text
    low, high = 0, len(text)  # fits(text[:low] + "…") is assumed; binary search the largest such low
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle] + ELLIPSIS):
            low = middle
        else:
            high = middle - 1
    return text[:low] + ELLIPSIS


def payload(push, limit=MAX_PAYLOAD_BYTES):
    """The plaintext JSON a page's service worker reads: the inbox item plus the unread count, <= limit bytes.

    Of the rich fields, only the image's URL (`image`) travels; `message` is a Markdown message's words.

    A long message (then a long channel name) is shortened with '…'; the url never is. A withdraw or a
    dismiss (`data_only`) is its data alone: {"type": "withdraw" or "dismiss", "message_id"}.
    """
    if push.data_only:
        return _encoded({key: str(value) for key, value in push.data.items()})
    document = {
        "id": int(push.data.get("message_id") or push.collapse_id or 0),
        "channel": {"token": push.data.get("channel_token", ""), "name": push.title,
                    "logo_url": push.image or None, "verified": bool(push.channel_verified)},
        "title": push.message_title or None,
        "message": push.body,
        "image": push.attachment or None,  # the service worker shows it (showNotification's image)
        "url": push.data.get("url") or None,
        "important": push.important,
        "priority": push.priority,
        "acknowledged": False,  # as in the inbox item: an acknowledged message is pushed no more
        "actions": json.loads(push.data["actions"]) if push.data.get("actions") else [],
        "created_at": push.created_at or None,
        "unread": push.badge if push.badge is not None else 0,
    }
    data = _encoded(document)
    if len(data) <= limit:
        return data

    def fits_message(text):
        return len(_encoded({**document, "message": text})) <= limit

    document["message"] = _shortened(push.body, fits_message) if fits_message(ELLIPSIS) else ELLIPSIS
    if not fits_message(document["message"]):

        def fits_name(name):
            return len(_encoded({**document, "channel": {**document["channel"], "name": name}})) <= limit

        document["channel"]["name"] = _shortened(push.title, fits_name)
    return _encoded(document)


def topic(push):
    """The Topic header (RFC 8030 5.4: <= 32 base64url characters): a resent push replaces the pending one."""
    return ("m" + str(push.collapse_id or push.data.get("message_id", "")))[:32]


def _ca_bundle(extra_ca_file):
    """A CA bundle file: the usual trusted roots plus extra_ca_file (requests' verify takes one file)."""
    import certifi

    usual = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or ""
    usual = usual if os.path.isfile(usual) else certifi.where()
    bundle = tempfile.NamedTemporaryFile("w", prefix="kilopush-webpush-ca-", suffix=".pem", delete=False)
    with bundle:
        bundle.write(Path(usual).read_text())
        bundle.write("\n")
        bundle.write(Path(extra_ca_file).read_text())
    return bundle.name


class _Session(requests.Session):
    """A session whose own `verify` wins (requests lets REQUESTS_CA_BUNDLE override a session's, psf/requests#3829)
    and that never follows a redirect: a 3xx is the answer (`result_from_response`), whatever pywebpush asks."""

    max_redirects = 0

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.verify)
        kwargs["allow_redirects"] = False
        return super().request(method, url, **kwargs)


class WebPushProvider(ThreadPoolProvider):
    name = "webpush"
    label = "Web Push"
    connect_timeout = CONNECT_TIMEOUT

    def __init__(self, *, private_key, subject, ttl, timeout=10.0, concurrency=32, ca_file="", endpoint_hosts=None):
        self.endpoint_hosts = endpoint_hosts  # None: any (the registration checked it)
        self.vapid = Vapid(private_key=private_key)
        self.subject = subject
        self.ttl = max(int(ttl), 0)
        self.timeout = timeout
        self.session = _Session()
        adapter = HTTPAdapter(
            pool_connections=16,
            pool_maxsize=concurrency,
            max_retries=Retry(total=0, read=False, redirect=False, respect_retry_after_header=False),
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._bundle = _ca_bundle(ca_file) if ca_file else None
        if self._bundle:
            self.session.verify = self._bundle
        self._jwt_lock = threading.Lock()
        self._jwts = {}  # audience -> (Authorization header, expiry)
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webpush")

    def vapid_headers(self, endpoint):
        """The Authorization header for the endpoint's push service (one JWT per origin, renewed before exp)."""
        url = urlsplit(endpoint)
        audience = f"{url.scheme}://{url.netloc}"
        now = time.time()
        with self._jwt_lock:
            cached = self._jwts.get(audience)
            if cached and cached[1] - now > JWT_RENEW_BEFORE:
                return dict(cached[0])
            expiry = int(now) + JWT_LIFETIME
            headers = self.vapid.sign({"aud": audience, "sub": self.subject, "exp": expiry})
            self._jwts[audience] = (headers, expiry)
            return dict(headers)

    def _send_one(self, push):
        if self.endpoint_hosts is not None and not endpoint_host_allowed(urlsplit(push.token), self.endpoint_hosts):
            # Registered before WEBPUSH_ENDPOINT_HOSTS was narrowed: never POST there (SSRF guard).
            return Result.invalid_token("Web Push endpoint is not on WEBPUSH_ENDPOINT_HOSTS")
        subscription = {"endpoint": push.token, "keys": dict(push.web_keys or {})}
        try:
            pusher = WebPusher(subscription, requests_session=self.session)
            headers = {**self.vapid_headers(push.token), "Urgency": "high", "Topic": topic(push)}
        except WebPushException as exc:
            return Result.invalid_token(f"Web Push subscription: {exc.message}")
        except Exception as exc:  # py-vapid refusing our subject or key
            logger.error("Could not sign the VAPID token (%s); check VAPID_PRIVATE_KEY and VAPID_SUBJECT", exc)
            return Result.retry(f"Web Push VAPID: {exc.__class__.__name__}")
        try:
            # The message's time left at push time when it has a ttl, else WEBPUSH_TTL.
            ttl = max(int(push.ttl), 0) if push.ttl is not None else self.ttl
            response = pusher.send(payload(push), headers, ttl=ttl, content_encoding="aes128gcm",
                                   timeout=(CONNECT_TIMEOUT, self.timeout))
        except requests.Timeout:
            return Result.retry("Web Push timeout")
        except requests.RequestException as exc:
            return Result.retry(f"Web Push connection: {exc.__class__.__name__}")
        except Exception as exc:  # the subscription's keys cannot encrypt (checked at registration; stay safe)
            return Result.rejected(f"Web Push encryption: {exc.__class__.__name__} {exc}")
        return result_from_response(response.status_code, response.content, response.headers)

    def close(self):
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.session.close()
        if self._bundle:
            Path(self._bundle).unlink(missing_ok=True)
