"""FCM HTTP v1: pyfcm builds the payloads and holds the OAuth token; providers/http1.py posts them.

FCM has no batch call, so the cost per push is one HTTP request: the requests go out on one
event loop thread per worker process over kept-alive connections (at most FCM_CONCURRENCY),
which costs a ninth of the CPU per push of a thread and a requests session per push, and half
of aiohttp's (`python -m bench.push_clients`). One attempt per request: retries are the
pipeline's decision (pyfcm's own send_request sleeps on Retry-After and calls itself again, and
its async path opens a connection per push), and every answer is mapped in `result_from_response`.
"""

import asyncio
import json
import logging
import threading
from urllib.parse import urlsplit

import google.auth.transport.requests
from pyfcm import FCMNotification

from . import http1
from .base import LoopThread, Provider, Result, parse_retry_after

logger = logging.getLogger(__name__)

QUOTA_DEFAULT_DELAY = 60.0  # FCM asks senders to back off at least a minute on QUOTA_EXCEEDED
CONNECT_TIMEOUT = 5.0


def result_from_response(status_code, body, headers):
    """The one place where FCM's answers become Results."""
    if 200 <= status_code < 300:
        try:
            return Result.accepted(json.loads(body or b"{}").get("name", ""))
        except (ValueError, AttributeError):
            return Result.accepted("")
    try:
        error = json.loads(body or b"{}").get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    details = error.get("details") or []
    fcm_code = next((d.get("errorCode") for d in details if isinstance(d, dict) and d.get("errorCode")), None)
    code = fcm_code or error.get("status") or ("(no body)" if not body else "(unreadable body)")
    message = error.get("message") or ""
    reason = f"FCM {status_code} {code}" + (f": {message}" if message else "")
    retry_after = parse_retry_after(headers.get("Retry-After"))

    if code in ("UNREGISTERED", "SENDER_ID_MISMATCH"):
        return Result.invalid_token(reason)
    if code == "INVALID_ARGUMENT":
        violations = [v for d in details if isinstance(d, dict) for v in d.get("fieldViolations") or []]
        about_token = any(v.get("field") == "message.token" for v in violations if isinstance(v, dict))
        if about_token or "registration token" in message.lower():
            return Result.invalid_token(reason)
        return Result.rejected(reason)
    if code == "QUOTA_EXCEEDED" or status_code == 429:
        return Result.retry(reason, after=retry_after if retry_after is not None else QUOTA_DEFAULT_DELAY)
    if code in ("UNAVAILABLE", "INTERNAL") or status_code >= 500:
        return Result.retry(reason, after=retry_after)
    if status_code in (401, 403, 404) or code == "THIRD_PARTY_AUTH_ERROR":
        # Our credentials, project or endpoint are wrong: not the message's fault, so keep it.
        logger.error("FCM refused our credentials or project (%s); check FCM_CREDENTIALS and FCM_ENDPOINT", reason)
        return Result.retry(reason, after=retry_after)
    return Result.rejected(reason)


class _TokenRequest(google.auth.transport.requests.Request):
    """google-auth's transport with a bounded timeout (its default waits two minutes)."""

    def __init__(self, timeout):
        super().__init__()
        self._timeout = timeout

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        timeout = timeout or self._timeout
        return super().__call__(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)


class FCMClient(FCMNotification):
    """pyfcm pointed at FCM_ENDPOINT: its payload building, and one OAuth token shared by every push."""

    def __init__(self, *, credentials_file, endpoint, timeout):
        super().__init__(service_account_file=credentials_file)
        self.FCM_END_POINT_BASE = endpoint.rstrip("/") + "/v1/projects"
        self.timeout = timeout
        self._token_lock = threading.Lock()
        self._token_request = _TokenRequest(timeout)
        self._stale_token = None

    def _get_access_token(self):
        with self._token_lock:
            if self.credentials is None:
                self._initialize_credentials()
            if not self.credentials.valid or self.credentials.token == self._stale_token:
                self.credentials.refresh(self._token_request)
            return self.credentials.token

    def renewed_token(self, refused):
        """A fresh token after a 401 on `refused`; concurrent 401s on the same token renew it once."""
        with self._token_lock:
            if self.credentials.token == refused:
                self._stale_token = refused
        return self._get_access_token()


def _android(push, config):
    if push.ttl is not None:
        config["ttl"] = f"{max(int(push.ttl), 0)}s"  # the time left at push time; FCM drops it after
    return config


def message_fields(push):
    """pyfcm parse_payload arguments for one Push (FCM data values are strings)."""
    data = {key: str(value) for key, value in push.data.items()}
    if push.data_only:
        # A withdraw or a dismiss: data only, so the app runs and removes the notification; nothing is shown.
        return {"fcm_token": push.token, "data_payload": data, "android_config": _android(push, {"priority": "HIGH"})}
    if push.message_title:
        data["channel_name"] = push.title  # the source, under the sender's title
    if push.attachment:
        data["attachment_url"] = push.attachment  # the message's image (notification.image shows it)
    if push.important is False:
        data.update(title=push.shown_title, body=push.body)
        if push.image:
            data["image"] = push.image
        return {"fcm_token": push.token, "data_payload": data, "android_config": _android(push, {"priority": "NORMAL"})}
    notification = {"channel_id": "important" if push.important else "default", "sound": "default"}
    if push.priority == -1:
        notification = {"channel_id": "quiet", "notification_priority": "PRIORITY_LOW"}  # no sound, no heads-up
    if push.collapse_id:
        notification["tag"] = push.collapse_id  # a resent push replaces the shown notification (apns-collapse-id)
    return {
        "fcm_token": push.token,
        "notification_title": push.shown_title,
        "notification_body": push.body,
        "notification_image": push.attachment or push.image or None,
        "data_payload": data,
        "android_config": _android(push, {"priority": "HIGH", "notification": notification}),
    }


class FCMProvider(Provider):
    """FCM HTTP v1 over kept-alive HTTP/1.1 connections (providers/http1.py), on one event loop thread per worker process."""

    name = "fcm"

    def __init__(self, *, credentials_file, endpoint, timeout=10.0, concurrency=64):
        self.client = FCMClient(credentials_file=credentials_file, endpoint=endpoint, timeout=timeout)
        self.timeout = timeout
        self.concurrency = concurrency
        self._pool = None
        self._path = None
        self._loop = LoopThread("fcm-loop")

    def _http(self):
        if self._pool is None:  # made on the loop: its connections and their limit belong to it
            url = urlsplit(self.client.fcm_end_point)
            self._pool = http1.Pool(self.client.fcm_end_point, limit=self.concurrency, connect_timeout=CONNECT_TIMEOUT)
            self._path = url.path + (f"?{url.query}" if url.query else "")
        return self._pool

    async def _post(self, payload, token):
        pool = self._http()
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        return await pool.request("POST", self._path, payload, headers, timeout=self.timeout)

    async def _send_one(self, push, token):
        try:
            payload = self.client.parse_payload(**message_fields(push))
        except Exception as exc:
            return Result.rejected(f"FCM payload: {exc}")
        try:
            status, body, headers = await self._post(payload, token)
            if status == 401:  # the token expired or was revoked: renew it once (that is not a resend)
                token = await asyncio.to_thread(self.client.renewed_token, token)
                status, body, headers = await self._post(payload, token)
        except asyncio.TimeoutError:
            return Result.retry("FCM timeout")
        except (OSError, http1.ProtocolError) as exc:
            return Result.retry(f"FCM connection: {exc.__class__.__name__}")
        except Exception as exc:  # OAuth token endpoint down or credentials refused
            logger.error("FCM could not get an access token: %s", exc)
            return Result.retry(f"FCM access token: {exc.__class__.__name__}")
        return result_from_response(status, body, headers)

    async def _send_all(self, pushes, token, answered=None):
        if answered is None:
            return await asyncio.gather(*(self._send_one(push, token) for push in pushes))

        async def one(index, push):
            result = await self._send_one(push, token)
            answered(index, result)
            return result

        return await asyncio.gather(*(one(index, push) for index, push in enumerate(pushes)))

    def send(self, pushes, answered=None):
        if not pushes:
            return []
        try:
            token = self.client._get_access_token()
        except Exception as exc:  # OAuth token endpoint down or credentials refused
            logger.error("FCM could not get an access token: %s", exc)
            return [Result.retry(f"FCM access token: {exc.__class__.__name__}")] * len(pushes)
        # Each request is bounded by its own timeouts; this only guards a stuck queue of them.
        rounds = 1 + len(pushes) // max(self.concurrency, 1)
        future = asyncio.run_coroutine_threadsafe(self._send_all(pushes, token, answered), self._loop.loop)
        try:
            return future.result((CONNECT_TIMEOUT + self.timeout) * rounds + 5)
        except TimeoutError:
            future.cancel()
            return [Result.retry("FCM not sent in time")] * len(pushes)

    def close(self):
        async def _close():
            if self._pool is not None:
                self._pool.close()

        try:
            self._loop.run(_close(), timeout=2)
        finally:
            self._loop.stop()
