"""The shipped deploy/ files around the stream (issue 23): through real nginx, the stream caps refuse before nginx
runs out of connections, nginx's own 502 on /v1/ is the API's envelope, the shipped sizes follow the documented
formula, and the systemd target leaves beat to one node."""

import configparser
import http.client
import json
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from channels_app.services import channel_create
from tests.people import make_person
from tests.procs import NGINX, database_url_for, free_port, start_gunicorn, start_nginx, start_stream

pytestmark = pytest.mark.slow

DEPLOY = Path(settings.BASE_DIR) / "deploy"


def request(port, method, path, body=None, headers=None, source="127.0.0.1"):
    """(status, headers, body) through a fresh connection, closed after the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def open_stream(port, access_token, source="127.0.0.1"):
    """(status, connection): a 200 is held open (the caller closes it); any other answer is read and closed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    conn.request("GET", "/v1/app/stream", headers={"Authorization": f"Bearer {access_token}"})
    response = conn.getresponse()
    if response.status != 200:
        response.read()
        conn.close()
        return response.status, None
    return 200, conn


@pytest.fixture
def site(transactional_db, tmp_path):
    """web, stream and nginx (the shipped site file; a small main file: worker_connections 256)."""
    env = {"DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL, "TRUSTED_PROXY_COUNT": 1,
           "STREAM_MAX_PER_ACCOUNT": 3, "STREAM_MAX_PER_ADDRESS": 4, "KILOPUSH_VAR_DIR": tmp_path / "var"}
    web = start_gunicorn(tmp_path, **env)
    stream = start_stream(tmp_path, **env)
    nginx = start_nginx(tmp_path, web_port=web.url.rsplit(":", 1)[1], stream_port=stream.port, var_dir=tmp_path / "var")
    held = []
    try:
        yield nginx.port, held
    finally:
        for conn in held:
            conn.close()
        nginx.kill()
        stream.kill()
        web.kill()


def test_one_token_cannot_exhaust_nginx_the_caps_refuse_first(site):
    port, held = site
    person = make_person()
    statuses = []
    for _ in range(200):  # held, these would need 400 of nginx's 256 connections
        status, conn = open_stream(port, person.access_token, source="127.0.0.2")
        statuses.append(status)
        if conn:
            held.append(conn)
    assert statuses.count(200) == 3 and statuses.count(429) == 197, statuses
    status, _, body = request(port, "GET", "/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    channel = channel_create(owner=make_person().user, name="Porch")
    status, _, body = request(port, "POST", "/v1/messages/send", json.dumps(
        {"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Still up"}),
        {"Content-Type": "application/json"})
    assert status == 200, body


def test_behind_nginx_the_per_address_cap_counts_the_clients_address(site):
    port, held = site
    statuses = []
    for _ in range(5):
        status, conn = open_stream(port, make_person().access_token, source="127.0.0.3")
        statuses.append(status)
        held += [conn] if conn else []
    assert statuses == [200, 200, 200, 200, 429]
    status, conn = open_stream(port, make_person().access_token, source="127.0.0.4")  # another client
    held += [conn] if conn else []
    assert status == 200


def test_nginx_answers_502_on_the_api_with_the_envelope(tmp_path):
    nginx = start_nginx(tmp_path, web_port=free_port(), stream_port=free_port(), var_dir=tmp_path / "var")
    try:
        for method, path in (("POST", "/v1/messages/send"), ("GET", "/v1/app/stream"), ("GET", "/v1/app/config")):
            status, headers, body = request(nginx.port, method, path, b"{}" if method == "POST" else None)
            assert status == 502, (path, body)
            assert headers["Content-Type"] == "application/json", path
            assert json.loads(body) == {"response": {"status": 502, "message": json.loads(body)["response"]["message"]}}
            assert headers["Retry-After"] == "5"
        status, headers, _ = request(nginx.port, "GET", "/admin/login/")
        assert status == 502 and headers["Content-Type"].startswith("text/html")  # a page's: nginx's page
    finally:
        nginx.kill()


def test_the_api_location_answers_every_gateway_error_with_the_envelope():
    site = (DEPLOY / "nginx" / "kilopush.conf").read_text()
    for location in ("location /v1/ {", "location = /v1/app/stream {"):
        block = site.split(location, 1)[1].split("}", 1)[0]
        for code in (502, 503, 504):
            assert f"error_page {code} @api_{code};" in block, (location, code)
    for code in (502, 503, 504):
        named = site.split(f"location @api_{code} {{", 1)[1].split("\n    }", 1)[0]
        body = re.search(r"return %d '(.*)\\n';" % code, named).group(1)
        assert json.loads(body)["response"]["status"] == code and "application/json" in named


def shipped_sizes():
    main = (DEPLOY / "nginx" / "nginx.conf").read_text()
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "systemd" / "kilopush-stream.service")
    return (int(re.search(r"^\s*worker_connections (\d+);", main, re.M).group(1)),
            int(re.search(r"^worker_rlimit_nofile (\d+);", main, re.M).group(1)),
            int(unit["Service"]["LimitNOFILE"]))


def test_the_shipped_sizes_follow_the_documented_formula():
    connections, nginx_files, stream_files = shipped_sizes()
    streams = settings.STREAM_MAX_PER_PROCESS  # one stream process per node, the default cap
    assert connections >= 2 * streams + 2 * 1024 + 512
    assert nginx_files >= connections + 1024
    assert stream_files >= streams + 2048 + 256
    operations = (Path(settings.BASE_DIR) / "docs" / "operations.md").read_text()
    assert "2 × STREAM_MAX_PER_PROCESS × stream processes + 2 × 1024 + 512" in operations
    assert "STREAM_MAX_PER_PROCESS + 2048 + 256" in operations


def test_the_shipped_nginx_main_file_is_valid_with_the_site(tmp_path):
    """nginx -t of deploy/nginx/nginx.conf, its paths moved into tmp_path and the site file included."""
    site = (DEPLOY / "nginx" / "kilopush.conf").read_text().replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    (tmp_path / "site.conf").write_text(site)
    main = (DEPLOY / "nginx" / "nginx.conf").read_text()
    for production, test in (("user www-data;", "user root root;"), ("/run/nginx.pid", str(tmp_path / "nginx.pid")),
                             ("/var/log/nginx", str(tmp_path)), ("/etc/nginx/conf.d/*.conf", str(tmp_path / "site.conf"))):
        assert production in main, production
        main = main.replace(production, test)
    (tmp_path / "nginx.conf").write_text(main)
    check = subprocess.run([NGINX, "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_the_target_does_not_start_beat_on_every_node():
    target = configparser.ConfigParser(strict=False, interpolation=None)
    target.read(DEPLOY / "systemd" / "kilopush.target")
    wanted = target["Unit"]["Wants"].split()
    assert "kilopush-beat.service" not in wanted
    assert {"kilopush-web.service", "kilopush-worker.service", "kilopush-stream.service"} <= set(wanted)
    beat = configparser.ConfigParser(strict=False, interpolation=None)
    beat.read(DEPLOY / "systemd" / "kilopush-beat.service")
    assert beat["Install"]["WantedBy"] == "kilopush.target"  # enabled on the one node: started with the target
    operations = (Path(settings.BASE_DIR) / "docs" / "operations.md").read_text()
    assert "systemctl enable --now kilopush-beat" in operations
