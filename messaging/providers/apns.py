"""APNs through aioapns with token (ES256 JWT) auth.

One event loop thread and one aioapns client per endpoint are kept per worker process;
the pushes of a batch go out concurrently as HTTP/2 streams over the same connection(s).
aioapns needs three corrections: a base URL and CA of our choosing, an answer for a
response without a body (it would wait for ever), and no silent resend when a connection
drops (the pipeline decides; apns-collapse-id keeps a resend to one notification anyway).
"""

import asyncio
import dataclasses
import json
import logging
import ssl
import uuid
from urllib.parse import urlsplit

from aioapns import APNs, NotificationRequest, PushType
from aioapns.common import NotificationResult
from aioapns.connection import APNsTLSClientProtocol

from users_app.push_tokens import push_token_problem

from .base import LoopThread, Provider, Result, parse_retry_after

logger = logging.getLogger(__name__)

PROVIDER_TOKEN_REASONS = {
    "InvalidProviderToken",
    "ExpiredProviderToken",
    "MissingProviderToken",
    "TopicDisallowed",
    "BadTopic",
    "MissingTopic",
    "BadCertificate",
    "BadCertificateEnvironment",
    "Forbidden",
}
DEAD_TOKEN_REASONS = {"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"}
# A token that is not hex would put a line break or a space in the request path: h2 (ours or
# the server's) then tears down the whole connection with every push in flight on it. APNs
# answers a token of the wrong shape with 400 BadDeviceToken, so that is the answer it gets,
# without ever being sent.
MALFORMED_TOKEN_ANSWER = (400, "BadDeviceToken")


def result_from_answer(status, reason, retry_after):
    """The one place where APNs's answers become Results."""
    status = str(status)
    if status == "200":
        return Result.accepted()
    text = f"APNs {status} {reason or '(no body)'}"
    delay = parse_retry_after(retry_after)
    if status == "410" or reason in DEAD_TOKEN_REASONS:
        return Result.invalid_token(text)
    if status == "429" or (status.isdigit() and int(status) >= 500):
        return Result.retry(text, after=delay)
    if status == "403" or reason in PROVIDER_TOKEN_REASONS:
        # Our key, team, key id or topic is wrong: every push fails until an operator fixes it.
        logger.error("APNs refused our provider token or topic (%s); check APNS_KEY, APNS_KEY_ID, "
                     "APNS_TEAM_ID and APNS_TOPIC", text)
        return Result.retry(text, after=delay)
    return Result.rejected(text)


class APNsAnswer(NotificationResult):
    __slots__ = ("retry_after",)

    def __init__(self, notification_id, status, description=None, timestamp=None, retry_after=None):
        super().__init__(notification_id, status, description, timestamp)
        self.retry_after = retry_after


def protocol_class(host, port):
    """aioapns's TLS protocol aimed at host:port, answering every stream that ends."""

    class Protocol(APNsTLSClientProtocol):
        APNS_SERVER = host
        APNS_PORT = port

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.retry_afters = {}

        def on_response_received(self, headers):
            super().on_response_received(headers)
            if headers.get(b"retry-after"):
                notification_id = headers.get(b"apns-id", b"").decode("utf8")
                self.retry_afters[notification_id] = headers[b"retry-after"].decode("utf8")

        def _answer(self, stream_id, description=None, timestamp=None):
            notification_id = self.request_streams.pop(stream_id, None)
            future = self.requests.pop(notification_id, None) if notification_id else None
            if future is not None and not future.done():
                status = self.request_statuses.pop(notification_id, "") or "500"
                retry_after = self.retry_afters.pop(notification_id, None)
                future.set_result(APNsAnswer(notification_id, status, description, timestamp, retry_after))

        def on_data_received(self, data, stream_id):
            try:
                body = json.loads(data.decode("utf8"))
            except ValueError:
                body = {}
            if isinstance(body, dict) and body.get("reason"):
                self._answer(stream_id, body.get("reason"), body.get("timestamp"))

        def on_stream_ended(self, stream_id):
            self._answer(stream_id)  # a response without a body (aioapns would wait for ever)
            super().on_stream_ended(stream_id)

    return Protocol


def request_for(push, topic):
    data = {key: str(value) for key, value in push.data.items()}
    if push.data_only:
        # A withdraw or a dismiss: a background push with the data at the top level, no alert, no sound.
        message = {"aps": {"content-available": 1}, **data}
        push_type, priority = PushType.BACKGROUND, 5
    elif push.important is False:
        message = {"aps": {"content-available": 1}, **data, "title": push.shown_title, "body": push.body}
        if push.message_title:
            message["subtitle"] = push.title
        if push.image:
            message["image"] = push.image
        if push.attachment:
            message["attachment_url"] = push.attachment
        push_type, priority = PushType.BACKGROUND, 5
    else:
        alert = {"title": push.shown_title, "body": push.body}
        if push.message_title:
            alert["subtitle"] = push.title  # the channel's name, as the source
        aps = {"alert": alert, "sound": "default"}
        if push.badge is not None:
            aps["badge"] = push.badge
        if push.important:
            aps["interruption-level"] = "time-sensitive"
        if push.priority == 2:
            aps["category"] = "KILOPUSH_EMERGENCY"  # the app's category with an "Acknowledge" action
        if push.priority == -1:
            del aps["sound"]
            aps["interruption-level"] = "passive"  # into the notification list without a sound or lighting the screen
        message = {"aps": aps, **data}
        if push.image:
            aps["mutable-content"] = 1  # lets the app's notification service extension attach the logo
            message["image"] = push.image
        if push.attachment:
            aps["mutable-content"] = 1  # the service extension downloads and attaches the message's image
            message["attachment_url"] = push.attachment
        push_type, priority = PushType.ALERT, 10
    return NotificationRequest(
        device_token=push.token,
        message=message,
        notification_id=str(uuid.uuid4()),
        priority=priority,
        time_to_live=max(int(push.ttl), 0) if push.ttl is not None else None,  # aioapns: apns-expiration = now + ttl
        collapse_key=(push.collapse_id or None) if not push.data_only else None,
        push_type=push_type,
        apns_topic=topic,
    )


async def _ignore_error(request, result):
    """aioapns logs every refusal at ERROR; ours are mapped and logged by result_from_answer."""


class APNsProvider(Provider):
    name = "apns"

    def __init__(self, *, key_file, key_id, team_id, topic, endpoint, sandbox_endpoint, ca_file="",
                 timeout=10.0, max_connections=4):
        with open(key_file) as f:
            self.key = f.read()
        self.key_id, self.team_id, self.topic = key_id, team_id, topic
        self.endpoints = {False: endpoint, True: sandbox_endpoint}
        self.ca_file = ca_file
        self.timeout = timeout
        self.max_connections = max_connections
        self.clients = {}
        self._loop = LoopThread("apns-loop")

    def _ssl_context(self):
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        context.set_alpn_protocols(["h2"])
        return context

    def _client(self, sandbox):
        client = self.clients.get(sandbox)
        if client is None:
            url = urlsplit(self.endpoints[sandbox])
            client = APNs(
                key=self.key,
                key_id=self.key_id,
                team_id=self.team_id,
                topic=self.topic,
                use_sandbox=sandbox,
                ssl_context=self._ssl_context(),
                max_connections=self.max_connections,
                max_connection_attempts=1,  # a dropped connection comes back as RETRY, not a silent resend
                err_func=_ignore_error,
            )
            client.pool.protocol_class = protocol_class(url.hostname, url.port or 443)
            self.clients[sandbox] = client
        return client

    async def _send_one(self, push):
        if push_token_problem("ios", push.token):
            result = result_from_answer(*MALFORMED_TOKEN_ANSWER, None)
            return dataclasses.replace(result, reason=result.reason + " (malformed token, not sent)")
        request = request_for(push, self.topic)
        try:
            answer = await asyncio.wait_for(self._client(push.sandbox).send_notification(request), self.timeout)
        except asyncio.TimeoutError:
            return Result.retry("APNs timeout")
        except Exception as exc:  # aioapns ConnectionError, MaxAttemptsExceeded, ssl and socket errors
            return Result.retry(f"APNs connection: {exc.__class__.__name__} {exc}".strip())
        result = result_from_answer(answer.status, answer.description, getattr(answer, "retry_after", None))
        if result.outcome.value == "accepted":
            return Result.accepted(answer.notification_id)
        return result

    async def _send_all(self, pushes, answered=None):
        if answered is None:
            return await asyncio.gather(*(self._send_one(push) for push in pushes))

        async def one(index, push):
            result = await self._send_one(push)
            answered(index, result)
            return result

        return await asyncio.gather(*(one(index, push) for index, push in enumerate(pushes)))

    def send(self, pushes, answered=None):
        if not pushes:
            return []
        return self._loop.run(self._send_all(pushes, answered), timeout=self.timeout * 2 + 5)

    def close(self):
        async def _close():
            for client in self.clients.values():
                client.pool.close()

        try:
            self._loop.run(_close(), timeout=2)
        finally:
            self._loop.stop()
