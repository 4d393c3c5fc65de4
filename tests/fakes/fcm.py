"""A local FCM HTTP v1 server, with the OAuth token endpoint its service-account file names.

    python -m tests.fakes.fcm --port 8701 --credentials var/fakes/fcm.json
    FCM_CREDENTIALS=var/fakes/fcm.json FCM_ENDPOINT=http://127.0.0.1:8701 make run

POST /token                                   OAuth 2.0 JWT-bearer grant (RS256 assertion checked
                                              against the service account's key)
POST /v1/projects/<project>/messages:send     FCM v1 send, Bearer token required
GET /_fake/pushes, POST /_fake/outcomes|default|reset   control (see tests/fakes/script.py)
"""

import argparse
import json
import secrets
import socket
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .script import ControlHandler, QuietThreadingHTTPServer, Script

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def error_body(code, status, message, fcm_code=None, field=None):
    details = []
    if fcm_code:
        details.append({"@type": FCM_ERROR, "errorCode": fcm_code})
    if field:
        details.append({"@type": BAD_REQUEST, "fieldViolations": [{"field": field, "description": message}]})
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


ANSWERS = {
    "unregistered": (404, error_body(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")),
    "bad_token": (400, error_body(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                                  "INVALID_ARGUMENT", "message.token")),
    "invalid_argument": (400, error_body(400, "INVALID_ARGUMENT", "Invalid value at 'message.android.priority'",
                                         "INVALID_ARGUMENT", "message.android.priority")),
    "sender_id_mismatch": (403, error_body(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")),
    "token_not_for_topic": (403, error_body(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")),
    "provider_token": (401, error_body(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
                                       "THIRD_PARTY_AUTH_ERROR")),
    "unavailable": (503, error_body(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")),
    "internal": (500, error_body(500, "INTERNAL", "Internal error encountered.", "INTERNAL")),
    "rate_limited": (429, error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded for sending messages.", "QUOTA_EXCEEDED")),
}


class FCMHandler(ControlHandler):
    def setup(self):
        super().setup()
        self.server.script.connected()

    def do_POST(self):
        fake = self.server.fake
        if self.path == "/token":
            return self.token()
        if self.path == f"/v1/projects/{fake.project_id}/messages:send":
            return self.send_message()
        if self.path.startswith("/v1/projects/"):
            self._body()
            return self.send_json(404, error_body(404, "NOT_FOUND", "Requested entity was not found."))
        return self.handle_control("POST")

    def token(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        with fake.lock:
            fake.token_requests += 1
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return self.send_json(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", [""])[0], fake.public_key, algorithms=["RS256"],
                # google-auth always names Google's token endpoint as the audience, whatever token_uri says
                audience=[fake.token_uri, GOOGLE_TOKEN_URI],
                issuer=fake.client_email, options={"require": ["iat", "exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return self.send_json(400, {"error": "invalid_grant", "error_description": str(exc)})
        if "firebase.messaging" not in claims.get("scope", ""):
            return self.send_json(400, {"error": "invalid_scope"})
        access_token = "ya29.fake-" + secrets.token_urlsafe(24)
        with fake.lock:
            fake.access_tokens.add(access_token)
        self.send_json(200, {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"})

    def send_message(self):
        fake, script = self.server.fake, self.server.script
        body = self._body()
        auth = self.headers.get("Authorization", "")
        with fake.lock:
            authorized = auth.startswith("Bearer ") and auth[7:] in fake.access_tokens
        if not authorized:
            return self.send_json(401, error_body(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not message.get("token"):
            return self.send_json(400, error_body(400, "INVALID_ARGUMENT", "Recipient of the message is not set.",
                                                  "INVALID_ARGUMENT", "message"))
        data = message.get("data") or {}
        if any(not isinstance(value, str) for value in data.values()):
            return self.send_json(400, error_body(400, "INVALID_ARGUMENT", "Invalid value at 'message.data' (string)",
                                                  "INVALID_ARGUMENT", "message.data"))
        token = message["token"]
        name, arg = script.next_outcome(token)
        script.received({"token": token, "message": message, "answer": name, "time": time.time()})
        script.begin()
        try:
            if script.latency:
                time.sleep(script.latency)
            self.answer(name, arg)
        finally:
            script.end()

    def answer(self, name, arg):
        fake, script = self.server.fake, self.server.script
        if name == "delay":
            time.sleep(arg or 0)
            name = "ok"
        if name == "ok":
            return self.send_json(200, {"name": f"projects/{fake.project_id}/messages/{uuid.uuid4().hex}"})
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
        if name == "internal_empty":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = ANSWERS[name]
        headers = {"Retry-After": str(int(arg))} if name == "rate_limited" and arg is not None else None
        self.send_json(status, body, headers)


class FakeFCM:
    def __init__(self, host="127.0.0.1", port=0, project_id="kilopush-fake"):
        self.project_id = project_id
        self.client_email = f"kilopush-sender@{project_id}.iam.gserviceaccount.com"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.private_key.public_key()
        self.lock = threading.Lock()
        self.access_tokens = set()
        self.token_requests = 0
        self.script = Script()
        self.server = QuietThreadingHTTPServer((host, port), FCMHandler)
        self.server.script = self.script
        self.server.fake = self
        self.thread = None

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self):
        return self.url + "/token"

    def credentials(self):
        """A Firebase service-account file's content whose token_uri is this server."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "fake-key-1",
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000000",
            "auth_uri": self.url + "/auth",
            "token_uri": self.token_uri,
        }

    def write_credentials(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.credentials(), indent=2))
        return str(path)

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-fcm", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.script.released.set()
        self.server.shutdown()
        self.server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local FCM HTTP v1 stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--project-id", default="kilopush-fake")
    parser.add_argument("--credentials", default="var/fakes/fcm-credentials.json",
                        help="where to write the service-account JSON to use as FCM_CREDENTIALS")
    parser.add_argument("--default", default="ok", help="outcome when none is queued for a token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    fake = FakeFCM(args.host, args.port, args.project_id)
    fake.script.set_default(args.default, args.latency)
    path = fake.write_credentials(args.credentials)
    print(f"FCM_CREDENTIALS={Path(path).resolve()}\nFCM_ENDPOINT={fake.url}", flush=True)
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
