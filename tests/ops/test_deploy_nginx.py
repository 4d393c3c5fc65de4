"""deploy/nginx/kilopush.conf, as shipped, in Debian's nginx in front of gunicorn on loopback: send, the admin
with its static files, a logo, /healthz, and throttles keyed on the client (X-Forwarded-For, TRUSTED_PROXY_COUNT=1).

Two clients are told apart by their loopback source address (127.0.0.2, 127.0.0.3): nginx sees them, gunicorn
sees only nginx.
"""

import http.client
import io
import json
import random
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from PIL import Image

from channels_app.services import channel_create
from tests.people import make_person
from tests.procs import base_env, database_url_for, free_port, start_gunicorn, start_nginx

pytestmark = pytest.mark.slow

class Client:
    """HTTP from a chosen loopback source address."""

    def __init__(self, port, source="127.0.0.1"):
        self.port, self.source = port, source

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0))
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        headers = {"Content-Type": "application/json", **(headers or {})}
        status, _, answer = self.request(method, path, json.dumps(body) if body is not None else None, headers)
        return status, json.loads(answer)


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, content_type) in files.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f"Content-Type: {content_type}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def noisy_png(size=(720, 720)):
    """An incompressible PNG of more than nginx's default 1 MB body limit."""
    rng = random.Random(15)
    image = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def behind_nginx(transactional_db, tmp_path):
    var_dir = tmp_path / "var"
    env = {"DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL, "KILOPUSH_VAR_DIR": var_dir,
           "TRUSTED_PROXY_COUNT": 1, "SEND_AUTH_FAILURE_RATE": "3/m", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                               cwd=settings.BASE_DIR, env=base_env(**env), capture_output=True, text=True, timeout=120)
    assert collected.returncode == 0, collected.stderr
    web = start_gunicorn(tmp_path, **env)
    nginx = start_nginx(tmp_path, web_port=web.url.rsplit(":", 1)[1], stream_port=free_port(), var_dir=var_dir)
    try:
        yield nginx.port, web
    finally:
        nginx.kill()
        web.kill()


def test_send_healthz_admin_static_and_a_logo_through_nginx(behind_nginx):
    port, web = behind_nginx
    client = Client(port)
    # /healthz
    status, body = client.json("GET", "/healthz")
    assert (status, body["status"]) == (200, "ok")
    # send
    owner = make_person()
    channel = channel_create(owner=owner.user, name="Porch")
    bob = make_person()
    status, body = client.json("POST", "/v1/messages/send", {"to": bob.token, "token": channel.token,
                                                             "secret": channel.secret, "message": "Knock"})
    assert (status, body["response"]["status"]) == (200, 200), body
    # the admin and its static files (served by nginx from STATIC_ROOT, not by the app)
    status, _, page = client.request("GET", "/admin/login/")
    assert status == 200 and b"/static/admin/css/base.css" in page
    status, headers, css = client.request("GET", "/static/admin/css/base.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and b"body" in css
    assert headers["Cache-Control"] == "public, max-age=86400"  # nginx's header: whitenoise would say max-age=60
    # a logo over 1 MB (nginx's default body limit), uploaded through nginx, then served from disk
    data, content_type = multipart({"name": "Porch cam"}, {"logo": ("logo.png", noisy_png(), "image/png")})
    assert len(data) > 1024 * 1024
    status, _, answer = client.request("POST", "/v1/app/channels", data,
                                       {"Content-Type": content_type, **owner_auth(owner)})
    assert status == 201, answer
    logo_path = "/media/" + json.loads(answer)["logo_url"].split("/media/", 1)[1]
    status, headers, image = client.request("GET", logo_path)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image)).size == (settings.LOGO_SIZE, settings.LOGO_SIZE)
    assert "immutable" in headers["Cache-Control"] and headers["Content-Security-Policy"] == "default-src 'none'"
    assert client.request("GET", "/media/logos/" + "0" * 32 + ".png")[0] == 404
    assert client.request("GET", "/media/other.txt")[0] == 404


def owner_auth(person):
    return {"Authorization": f"Bearer {person.access_token}"}


def test_throttles_key_on_the_client_behind_nginx_not_on_nginx(behind_nginx):
    port, _ = behind_nginx
    owner = make_person()
    channel = channel_create(owner=owner.user, name="Porch")
    bad = {"to": make_person().token, "token": channel.token, "secret": "0" * 64, "message": "guess"}
    attacker, neighbour = Client(port, "127.0.0.2"), Client(port, "127.0.0.3")
    statuses = [attacker.json("POST", "/v1/messages/send", bad)[1]["response"]["status"] for _ in range(4)]
    assert statuses == [4003, 4003, 4003, 4029]  # SEND_AUTH_FAILURE_RATE=3/m for this client
    # Another client behind the same nginx is not banned, even when it claims to be the attacker.
    assert neighbour.json("POST", "/v1/messages/send", bad)[1]["response"]["status"] == 4003
    spoofed = neighbour.json("POST", "/v1/messages/send", bad, {"X-Forwarded-For": "127.0.0.9"})
    assert spoofed[1]["response"]["status"] == 4003
    # And the attacker cannot shed its ban by claiming another address.
    claimed = attacker.json("POST", "/v1/messages/send", bad, {"X-Forwarded-For": "127.0.0.3"})
    assert claimed[1]["response"]["status"] == 4029


def test_nginxs_access_log_masks_send_keys(behind_nginx, tmp_path):
    from channels_app.services import send_key_create

    port, _web = behind_nginx
    owner = make_person()
    _, key = send_key_create(channel=channel_create(owner=owner.user, name="Cron"), recipient=owner.user)
    client = Client(port)
    assert client.request("POST", f"/{key}", b"Backup done", {"Content-Type": "text/plain"})[0] == 200
    assert client.request("POST", f"/message?token={key}", b'{"message": "x"}',
                          {"Content-Type": "application/json"})[0] == 200
    assert client.request("POST", f"/v1/hooks/{key}", b"Backup done", {"Content-Type": "text/plain"})[0] == 200
    # nginx writes a request's log line after its answer went out: wait (up to 10 s) for the third line.
    access_log, deadline = tmp_path / "nginx" / "access.log", time.monotonic() + 10
    while (log := access_log.read_text()).count("\n") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert key not in log
    assert log.count(f"k_...{key[-4:]}") == 3, log
