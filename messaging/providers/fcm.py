"""FCM HTTP v1 through pyfcm, with one attempt per request: retries are the pipeline's decision.

pyfcm's own send_request sleeps on Retry-After and calls itself again (a 429 loops for ever)
and its default adapter retries 503s with backoff for minutes; so requests go out through
an adapter without retries, once, and every answer is mapped in `result_from_response`.
"""

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import google.auth.transport.requests
import requests
from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .base import Result, ThreadPoolProvider, parse_retry_after

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
    """pyfcm pointed at FCM_ENDPOINT, sharing one OAuth token between threads, one attempt per post."""

    def __init__(self, *, credentials_file, endpoint, timeout, pool_size):
        adapter = HTTPAdapter(
            pool_connections=2,
            pool_maxsize=pool_size,
            max_retries=Retry(total=0, read=False, redirect=False, respect_retry_after_header=False),
        )
        super().__init__(service_account_file=credentials_file, adapter=adapter)
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

    def post(self, payload):
        """One POST to messages:send; on a 401 the token is renewed once (that is not a resend)."""
        response = self.requests_session.post(self.fcm_end_point, data=payload, timeout=(CONNECT_TIMEOUT, self.timeout))
        if response.status_code == 401:
            self._stale_token = self.credentials.token
            self.thread_local.token_expiry = 0
            response = self.requests_session.post(
                self.fcm_end_point, data=payload, timeout=(CONNECT_TIMEOUT, self.timeout)
            )
        return response


def _android(push, config):
    if push.ttl is not None:
        config["ttl"] = f"{max(int(push.ttl), 0)}s"  # the time left at push time; FCM drops it after
    return config


def message_fields(push):
    """pyfcm parse_payload arguments for one Push (FCM data values are strings)."""
    data = {key: str(value) for key, value in push.data.items()}
    if push.data_only:
        # A withdraw: data only, so the app runs and removes the notification; nothing is shown.
        return {"fcm_token": push.token, "data_payload": data, "android_config": _android(push, {"priority": "HIGH"})}
    if push.important is False:
        data.update(title=push.title, body=push.body)
        if push.image:
            data["image"] = push.image
        return {"fcm_token": push.token, "data_payload": data, "android_config": _android(push, {"priority": "NORMAL"})}
    notification = {"channel_id": "important" if push.important else "default", "sound": "default"}
    if push.collapse_id:
        notification["tag"] = push.collapse_id  # a resent push replaces the shown notification (apns-collapse-id)
    return {
        "fcm_token": push.token,
        "notification_title": push.title,
        "notification_body": push.body,
        "notification_image": push.image or None,
        "data_payload": data,
        "android_config": _android(push, {"priority": "HIGH", "notification": notification}),
    }


class FCMProvider(ThreadPoolProvider):
    name = "fcm"
    label = "FCM"
    connect_timeout = CONNECT_TIMEOUT

    def __init__(self, *, credentials_file, endpoint, timeout=10.0, concurrency=16):
        self.client = FCMClient(
            credentials_file=credentials_file, endpoint=endpoint, timeout=timeout, pool_size=concurrency
        )
        self.timeout = timeout
        # Threads live as long as the provider, so each keeps its HTTP connection open between batches.
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fcm")

    def _send_one(self, push):
        try:
            payload = self.client.parse_payload(**message_fields(push))
        except Exception as exc:
            return Result.rejected(f"FCM payload: {exc}")
        try:
            response = self.client.post(payload)
        except requests.Timeout:
            return Result.retry("FCM timeout")
        except requests.RequestException as exc:
            return Result.retry(f"FCM connection: {exc.__class__.__name__}")
        except Exception as exc:  # OAuth token endpoint down or credentials refused
            logger.error("FCM could not get an access token: %s", exc)
            return Result.retry(f"FCM access token: {exc.__class__.__name__}")
        return result_from_response(response.status_code, response.content, response.headers)

    def close(self):
        self.executor.shutdown(wait=False, cancel_futures=True)
