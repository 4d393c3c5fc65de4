"""A local APNs server: HTTP/2 over TLS (self-signed certificate, ALPN h2), checking the ES256 provider token.

    python -m tests.fakes.apns --port 8702 --control-port 8703 --out var/fakes
    APNS_KEY=var/fakes/apns-key.p8 APNS_KEY_ID=FAKEKEY123 APNS_TEAM_ID=FAKETEAM12 APNS_TOPIC=org.kilopush.app \\
      APNS_ENDPOINT=https://127.0.0.1:8702 APNS_CA_FILE=var/fakes/apns-ca.pem make run

POST /3/device/<token>   the APNs provider API (Bearer JWT signed with the .p8 key it wrote)
Control (plain HTTP/1.1 on --control-port): GET /_fake/pushes, POST /_fake/outcomes|default|reset
"""

import argparse
import asyncio
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import uuid
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, DataReceived, RequestReceived, StreamEnded, StreamReset
from h2.exceptions import H2Error
from h2.settings import SettingCodes

from .script import ControlHandler, QuietThreadingHTTPServer, Script

ANSWERS = {
    "unregistered": (410, "Unregistered"),
    "bad_token": (400, "BadDeviceToken"),
    "token_not_for_topic": (400, "DeviceTokenNotForTopic"),
    "sender_id_mismatch": (400, "DeviceTokenNotForTopic"),
    "invalid_argument": (400, "BadPriority"),
    "provider_token": (403, "InvalidProviderToken"),
    "unavailable": (503, "ServiceUnavailable"),
    "internal": (500, "InternalServerError"),
    "rate_limited": (429, "TooManyRequests"),
}
TOKEN_TTL = 3600


def self_signed_certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KILO.Push fake APNs")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


class APNsServerProtocol(asyncio.Protocol):
    def __init__(self, fake):
        self.fake = fake
        self.conn = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport = None
        self.streams = {}

    def connection_made(self, transport):
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            transport.close()  # APNs speaks HTTP/2 only
            return
        self.fake.script.connected()
        self.conn.initiate_connection()
        self.conn.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        self.flush()

    def flush(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.conn.data_to_send())

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except H2Error:
            self.transport.close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                self.streams[event.stream_id] = (dict(event.headers), bytearray())
            elif isinstance(event, DataReceived):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id][1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                if event.stream_id in self.streams:
                    headers, body = self.streams.pop(event.stream_id)
                    asyncio.ensure_future(self.handle(event.stream_id, headers, bytes(body)))
            elif isinstance(event, StreamReset):
                self.streams.pop(event.stream_id, None)
            elif isinstance(event, ConnectionTerminated):
                self.transport.close()
        self.flush()

    def respond(self, stream_id, status, headers=(), body=None):
        if self.transport is None or self.transport.is_closing():
            return
        try:
            self.conn.send_headers(stream_id, [(":status", str(status)), *headers], end_stream=body is None)
            if body is not None:
                self.conn.send_data(stream_id, json.dumps(body).encode(), end_stream=True)
        except H2Error:
            return
        self.flush()

    def check_provider_token(self, headers):
        """None if the request's JWT is good, else the APNs reason."""
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return "MissingProviderToken"
        token = auth[7:]
        fake = self.fake
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != fake.key_id:
                return "InvalidProviderToken"
            claims = jwt.decode(token, fake.public_key, algorithms=["ES256"], options={"require": ["iss", "iat"]})
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if claims.get("iss") != fake.team_id:
            return "InvalidProviderToken"
        if claims["iat"] < time.time() - TOKEN_TTL:
            return "ExpiredProviderToken"
        return None

    async def handle(self, stream_id, headers, body):
        fake, script = self.fake, self.fake.script
        apns_id = headers.get("apns-id") or str(uuid.uuid4()).upper()
        id_header = [("apns-id", apns_id)]
        path = headers.get(":path", "")
        if headers.get(":method") != "POST" or not path.startswith("/3/device/"):
            return self.respond(stream_id, 405 if path.startswith("/3/device/") else 404, id_header,
                                {"reason": "MethodNotAllowed" if path.startswith("/3/device/") else "BadPath"})
        bad_auth = self.check_provider_token(headers)
        if bad_auth:
            return self.respond(stream_id, 403, id_header, {"reason": bad_auth})
        if headers.get("apns-topic") != fake.topic:
            return self.respond(stream_id, 400, id_header, {"reason": "TopicDisallowed"})
        token = path[len("/3/device/"):]
        try:
            bytes.fromhex(token)
            payload = json.loads(body)
        except ValueError:
            reason = "BadDeviceToken" if not all(c in "0123456789abcdefABCDEF" for c in token) else "BadPayload"
            return self.respond(stream_id, 400, id_header, {"reason": reason})
        if len(body) > 4096:
            return self.respond(stream_id, 413, id_header, {"reason": "PayloadTooLarge"})
        name, arg = script.next_outcome(token)
        push = {"token": token, "payload": payload, "answer": name, "time": time.time(),
                "headers": {k: v for k, v in headers.items() if k.startswith("apns-") or k in (":authority", "host")}}
        script.received(push)
        script.begin()
        try:
            if script.latency:
                await asyncio.sleep(script.latency)
            if name == "delay":
                await asyncio.sleep(arg or 0)
                name = "ok"
            if name == "hang":
                return  # never answers
            if name == "drop":
                self.transport.abort()
                return
            if name == "ok":
                return self.respond(stream_id, 200, id_header)
            if name == "internal_empty":
                return self.respond(stream_id, 500, id_header)
            status, reason = ANSWERS[name]
            extra = [("retry-after", str(int(arg)))] if name == "rate_limited" and arg is not None else []
            body = {"reason": reason}
            if name == "unregistered":
                body["timestamp"] = int(time.time() * 1000)
            self.respond(stream_id, status, id_header + extra, body)
        finally:
            script.end()


class FakeAPNs:
    def __init__(self, host="127.0.0.1", port=0, control_port=0, *, team_id="FAKETEAM12", key_id="FAKEKEY123",
                 topic="org.kilopush.app"):
        self.host, self.team_id, self.key_id, self.topic = host, team_id, key_id, topic
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self.signing_key.public_key()
        self.cert, cert_key = self_signed_certificate()
        self.script = Script()
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-apns-")
        cert_file, key_file = Path(self._tmp.name, "cert.pem"), Path(self._tmp.name, "key.pem")
        cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(cert_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.load_cert_chain(cert_file, key_file)
        self.ssl_context.set_alpn_protocols(["h2"])
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            self.loop.create_server(lambda: APNsServerProtocol(self), host, port, ssl=self.ssl_context)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self.control = QuietThreadingHTTPServer((host, control_port), ControlHandler)
        self.control.script = self.script
        self.threads = []

    @property
    def url(self):
        return f"https://{self.host}:{self.port}"

    @property
    def control_url(self):
        return f"http://{self.host}:{self.control.server_address[1]}"

    def key_pem(self):
        return self.signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def write_key(self, path):
        """The .p8 signing key (APNS_KEY) this server verifies provider tokens with."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.key_pem())
        return str(path)

    def write_ca(self, path):
        """The self-signed certificate to trust (APNS_CA_FILE)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def settings(self, directory):
        """The settings a client needs to reach this server, with the key and CA written under directory."""
        return {
            "APNS_KEY": self.write_key(Path(directory, "apns-key.p8")),
            "APNS_KEY_ID": self.key_id,
            "APNS_TEAM_ID": self.team_id,
            "APNS_TOPIC": self.topic,
            "APNS_ENDPOINT": self.url,
            "APNS_SANDBOX_ENDPOINT": self.url,
            "APNS_CA_FILE": self.write_ca(Path(directory, "apns-ca.pem")),
        }

    def start(self):
        self.threads = [
            threading.Thread(target=self.loop.run_forever, name="fake-apns", daemon=True),
            threading.Thread(target=self.control.serve_forever, name="fake-apns-control", daemon=True),
        ]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.script.released.set()
        self.control.shutdown()
        self.control.server_close()

        async def _close():
            self.server.close()
            if hasattr(self.server, "close_clients"):
                self.server.close_clients()

        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        for thread in self.threads:
            thread.join(5)
        self._tmp.cleanup()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local APNs stand-in (HTTP/2 over TLS)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--control-port", type=int, default=8703)
    parser.add_argument("--out", default="var/fakes", help="directory for the .p8 key and the CA certificate")
    parser.add_argument("--team-id", default="FAKETEAM12")
    parser.add_argument("--key-id", default="FAKEKEY123")
    parser.add_argument("--topic", default="org.kilopush.app")
    parser.add_argument("--default", default="ok", help="outcome when none is queued for a token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    fake = FakeAPNs(args.host, args.port, args.control_port, team_id=args.team_id, key_id=args.key_id,
                    topic=args.topic)
    fake.script.set_default(args.default, args.latency)
    for name, value in fake.settings(Path(args.out).resolve()).items():
        print(f"{name}={value}", flush=True)
    print(f"# control API: {fake.control_url}/_fake/pushes", flush=True)
    threading.Thread(target=fake.control.serve_forever, daemon=True).start()
    try:
        fake.loop.run_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
