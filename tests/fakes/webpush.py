"""A local Web Push service (RFC 8030) over HTTPS with a self-signed certificate.

    python -m tests.fakes.webpush --port 8704 --control-port 8705 --out var/fakes
    WEBPUSH_CA_FILE=var/fakes/webpush-ca.pem WEBPUSH_ENDPOINT_HOSTS=127.0.0.1:8704,localhost:8704 make run

POST /_fake/subscriptions   a browser-like subscription {"endpoint", "keys": {"p256dh", "auth"}}; the fake keeps
                            its private key. Body (optional): {"applicationServerKey": "<base64url>"}, the VAPID
                            public key the subscription is bound to (as PushManager.subscribe does), and "host"
                            (127.0.0.1 or localhost) for the endpoint's host name.
POST /push/<id>             the push: VAPID (RFC 8292) checked, the aes128gcm body (RFC 8291) decrypted and recorded
GET /_fake/pushes, POST /_fake/outcomes|default|reset   control (see tests/fakes/script.py); the token of an outcome
                            queue is the subscription's endpoint. POST /_fake/unsubscribe {"endpoint"} forgets one
                            (later pushes to it get 410 Gone).
The control paths are served on both ports: the HTTPS one and the plain HTTP --control-port.
"""

import argparse
import base64
import json
import secrets
import socket
import ssl
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .apns import self_signed_certificate
from .script import ControlHandler, QuietThreadingHTTPServer, Script

MAX_BODY = 4096  # RFC 8030 section 7.2: a push service must accept at least 4096 bytes
MAX_JWT_LIFETIME = 24 * 3600  # RFC 8292 section 2: exp no more than 24 hours after the request

ANSWERS = {
    "unregistered": (410, "push subscription has unsubscribed or expired"),
    "bad_token": (404, "push subscription not found"),
    "sender_id_mismatch": (403, "VAPID key does not match the subscription"),
    "token_not_for_topic": (403, "VAPID key does not match the subscription"),
    "provider_token": (401, "invalid VAPID credentials"),
    "invalid_argument": (400, "invalid request"),
    "unavailable": (503, "service unavailable"),
    "internal": (500, "internal error"),
    "rate_limited": (429, "too many requests"),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_point(key):
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def parse_vapid_authorization(value):
    """(jwt, k) from 'vapid t=<jwt>, k=<key>' (RFC 8292 section 3); None if it is not one."""
    scheme, _, params = (value or "").partition(" ")
    if scheme.lower() != "vapid":
        return None
    fields = {}
    for part in params.split(","):
        name, _, val = part.strip().partition("=")
        fields[name.strip().lower()] = val.strip()
    if not fields.get("t") or not fields.get("k"):
        return None
    return fields["t"], fields["k"]


class Subscription:
    def __init__(self, endpoint, application_server_key=None):
        self.id = endpoint.rsplit("/", 1)[1]
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.application_server_key = application_server_key  # raw 65-byte point, or None: any signer

    def as_json(self):
        """What PushSubscription.toJSON() gives a page."""
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(public_point(self.private_key)), "auth": b64url(self.auth)}}

    def decrypt(self, body):
        return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")


class WebPushHandler(ControlHandler):
    def setup(self):
        super().setup()
        self.server.script.connected()

    def do_POST(self):
        fake = self.server.fake
        path = urlsplit(self.path).path
        if path == "/_fake/subscriptions":
            body = self._body()
            try:
                subscription = fake.subscribe(
                    (body or {}).get("applicationServerKey"), host=(body or {}).get("host") or fake.host
                )
            except (ValueError, TypeError, AttributeError) as exc:
                return self.send_json(400, {"error": str(exc)})
            return self.send_json(201, subscription.as_json())
        if path == "/_fake/unsubscribe":
            endpoint = (self._body() or {}).get("endpoint", "")
            return self.send_json(200, {"ok": fake.unsubscribe(endpoint)})
        if path.startswith("/push/"):
            return self.push(path[len("/push/"):])
        return self.handle_control("POST")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def refuse(self, status, reason, endpoint="", **details):
        self.server.script.received({"token": endpoint, "answer": "refused", "status": status, "reason": reason,
                                     "time": time.time(), **details})
        self.send_json(status, {"code": status, "errno": 0, "error": "refused", "message": reason})

    def check_vapid(self, subscription):
        """(status, reason) when the VAPID credentials are refused, else (None, claims)."""
        parsed = parse_vapid_authorization(self.headers.get("Authorization", ""))
        if parsed is None:
            return 401, "missing or malformed vapid Authorization"
        token, k = parsed
        try:
            raw_key = b64url_decode(k)
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
        except (ValueError, TypeError):
            return 401, "k is not a P-256 public key"
        if subscription.application_server_key is not None and raw_key != subscription.application_server_key:
            return 403, "the VAPID key is not the subscription's applicationServerKey"
        origin = f"https://{self.headers.get('Host', '')}"
        try:
            if jwt.get_unverified_header(token).get("alg") != "ES256":
                return 401, "the JWT is not ES256"
            claims = jwt.decode(token, public_key, algorithms=["ES256"], audience=origin,
                                options={"require": ["aud", "exp", "sub"]})
        except jwt.PyJWTError as exc:
            return 401, f"JWT refused: {exc}"
        if claims["exp"] > time.time() + MAX_JWT_LIFETIME:
            return 401, "exp is more than 24 hours ahead"
        if not str(claims.get("sub") or "").startswith(("mailto:", "https:")):
            return 401, "sub is not a mailto: or https: URI"
        return None, claims

    def push(self, subscription_id):
        fake, script = self.server.fake, self.server.script
        body = self.read_body()
        subscription = fake.subscription(subscription_id)
        if subscription is None:
            gone = subscription_id in fake.unsubscribed
            return self.refuse(410 if gone else 404, "gone" if gone else "no such subscription")
        endpoint = subscription.endpoint
        status, claims = self.check_vapid(subscription)
        if status:
            return self.refuse(status, claims, endpoint)
        if self.headers.get("TTL") is None or not self.headers.get("TTL", "").isdigit():
            return self.refuse(400, "TTL header missing or invalid", endpoint)
        if len(body) > MAX_BODY:
            return self.refuse(413, "payload too large", endpoint)
        if body and self.headers.get("Content-Encoding", "").lower() != "aes128gcm":
            return self.refuse(415, "Content-Encoding must be aes128gcm", endpoint)
        plaintext = None
        if body:
            try:
                plaintext = subscription.decrypt(body)
            except Exception as exc:  # http_ece raises several kinds for a bad body
                return self.refuse(400, f"cannot decrypt: {exc.__class__.__name__} {exc}", endpoint)
        try:
            payload = json.loads(plaintext) if plaintext else None
        except ValueError:
            payload = None
        name, arg = script.next_outcome(endpoint)
        script.received({
            "token": endpoint,
            "subscription": subscription.id,
            "plaintext": plaintext.decode("utf-8", "replace") if plaintext is not None else None,
            "plaintext_bytes": len(plaintext) if plaintext is not None else 0,
            "payload": payload,
            "claims": claims,
            "headers": {name.lower(): value for name, value in self.headers.items()
                        if name.lower() in ("ttl", "urgency", "topic", "content-encoding", "host")},
            "answer": name,
            "time": time.time(),
        })
        script.begin()
        try:
            if script.latency:
                time.sleep(script.latency)
            self.answer(name, arg, subscription)
        finally:
            script.end()

    def answer(self, name, arg, subscription):
        script = self.server.script
        if name == "delay":
            time.sleep(arg or 0)
            name = "ok"
        if name == "ok":
            location = f"https://{self.headers.get('Host', '')}/m/{uuid.uuid4().hex}"
            return self.send_json(201, {}, {"Location": location})
        if name == "hang":
            script.released.wait(120)
            name = "drop"
        if name == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if name == "redirect":  # a push service must never send a push elsewhere: the client must not follow
            self.send_response(307)
            self.send_header("Location", self.server.fake.redirect_location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if name == "internal_empty":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, message = ANSWERS[name]
        headers = {"Retry-After": str(int(arg))} if name == "rate_limited" and arg is not None else None
        self.send_json(status, {"code": status, "errno": 0, "error": name, "message": message}, headers)


class TLSThreadingHTTPServer(QuietThreadingHTTPServer):
    """The TLS handshake happens in the request's own thread, so a slow client holds up no one."""

    ssl_context = None

    def finish_request(self, request, client_address):
        try:
            request = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(request, client_address)
        finally:
            try:
                request.close()
            except OSError:
                pass


class FakeWebPush:
    def __init__(self, host="127.0.0.1", port=0, control_port=0):
        self.host = host
        self.cert, cert_key = self_signed_certificate()
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-webpush-")
        cert_file, key_file = Path(self._tmp.name, "cert.pem"), Path(self._tmp.name, "key.pem")
        cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(cert_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.set_alpn_protocols(["http/1.1"])
        self.lock = threading.Lock()
        self.subscriptions = {}
        self.unsubscribed = set()
        self.redirect_location = "http://127.0.0.1:9/elsewhere"  # where the "redirect" outcome points
        self.script = Script()
        self.server = TLSThreadingHTTPServer((host, port), WebPushHandler)
        self.server.ssl_context = context
        self.control = QuietThreadingHTTPServer((host, control_port), WebPushHandler)
        for server in (self.server, self.control):
            server.script, server.fake = self.script, self
        self.threads = []

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return f"https://{self.host}:{self.port}"

    @property
    def control_url(self):
        return f"http://{self.host}:{self.control.server_address[1]}"

    def subscribe(self, application_server_key=None, *, host=None):
        """A new subscription (what the browser's PushManager.subscribe() would get from this service)."""
        if isinstance(application_server_key, str):
            application_server_key = b64url_decode(application_server_key)
        if application_server_key is not None:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), application_server_key)  # ValueError if bad
        host = host or self.host
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("host must be 127.0.0.1 or localhost")
        endpoint = f"https://{host}:{self.port}/push/{secrets.token_urlsafe(24)}"
        subscription = Subscription(endpoint, application_server_key)
        with self.lock:
            self.subscriptions[subscription.id] = subscription
        return subscription

    def subscription(self, subscription_id):
        with self.lock:
            return self.subscriptions.get(subscription_id)

    def unsubscribe(self, endpoint):
        subscription_id = endpoint.rsplit("/", 1)[-1]
        with self.lock:
            found = self.subscriptions.pop(subscription_id, None) is not None
            if found:
                self.unsubscribed.add(subscription_id)
        return found

    def write_ca(self, path):
        """The self-signed certificate to trust (WEBPUSH_CA_FILE)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def settings(self, directory):
        """The settings a server needs to push here, with the CA written under directory."""
        return {
            "WEBPUSH_CA_FILE": self.write_ca(Path(directory, "webpush-ca.pem")),
            "WEBPUSH_ENDPOINT_HOSTS": f"127.0.0.1:{self.port},localhost:{self.port}",  # not on 443: named
        }

    def start(self):
        self.threads = [
            threading.Thread(target=self.server.serve_forever, name="fake-webpush", daemon=True),
            threading.Thread(target=self.control.serve_forever, name="fake-webpush-control", daemon=True),
        ]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.script.released.set()
        for server in (self.server, self.control):
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(5)
        self._tmp.cleanup()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local Web Push service stand-in (HTTPS)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8704)
    parser.add_argument("--control-port", type=int, default=8705)
    parser.add_argument("--out", default="var/fakes", help="directory for the CA certificate")
    parser.add_argument("--default", default="ok", help="outcome when none is queued for an endpoint")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    fake = FakeWebPush(args.host, args.port, args.control_port)
    fake.script.set_default(args.default, args.latency)
    for name, value in fake.settings(Path(args.out).resolve()).items():
        print(f"{name}={value}", flush=True)
    print(f"# push service: {fake.url}/push/<id> (endpoints come from the subscriptions)", flush=True)
    print(f"# subscriptions: curl -X POST {fake.control_url}/_fake/subscriptions "
          f"-d '{{\"applicationServerKey\": \"<GET /v1/app/webpush public_key>\"}}'", flush=True)
    print(f"# control API: {fake.control_url}/_fake/pushes", flush=True)
    fake.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
