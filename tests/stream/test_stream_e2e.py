"""The live stream end to end: a Redis restart mid-stream, the embedded mode, and nginx in front (deploy/)."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from channels_app.services import channel_create
from tests.people import make_person
from tests.procs import (
    RedisServer, database_url_for, http, start_gunicorn, start_nginx, start_stream,
)
from tests.stream_support import SseClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = settings.BASE_DIR


def post_json(url, body, access_token=None):
    headers = {"Content-Type": "application/json"}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_redis_restart_during_streaming_loses_no_message(tmp_path):
    redis = RedisServer(tmp_path)
    env = {"DATABASE_URL": database_url_for(), "REDIS_URL": redis.url}
    web = start_gunicorn(tmp_path, **env)
    stream = start_stream(tmp_path, **env)
    sse = None
    try:
        person = make_person(platform="web", push_token="")
        channel = channel_create(owner=make_person().user, name="Boiler")
        sse = SseClient(stream.url + "/v1/app/stream", person.access_token)
        sse.wait_for(lambda c: c.comments, what="the opening comment")
        accepted, done = [], threading.Event()

        def sender():
            body = {"to": person.token, "token": channel.token, "secret": channel.secret}
            for i in range(80):
                status, answer = post_json(web.url + "/v1/messages/send", {**body, "message": f"m{i}"})
                assert status == 200, answer
                accepted.append(int(answer["response"]["id"]))
                time.sleep(0.03)
            done.set()

        thread = threading.Thread(target=sender)
        thread.start()
        sse.wait_for(lambda c: len(c.messages()) >= 10, what="the first messages")
        redis.restart()  # every subscription and wake-up in flight is gone
        sse.wait_for(lambda c: len(c.messages()) >= 40, timeout=20, what="messages after the first restart")
        redis.stop()
        time.sleep(1)  # sends go on, Redis is down: the stream polls the database
        redis.start()
        thread.join(60)
        assert done.is_set()
        sse.wait_for(lambda c: set(accepted) <= set(c.message_ids()), timeout=20, what="every accepted message")
        assert sorted(sse.message_ids()) == sorted(accepted)  # each once
        assert "Redis unreachable" in stream.log()
        # The wake-ups are back: a new message comes through the resubscribed process.
        status, answer = post_json(
            web.url + "/v1/messages/send",
            {"to": person.token, "token": channel.token, "secret": channel.secret, "message": "after"},
        )
        sse.wait_for(lambda c: int(answer["response"]["id"]) in c.message_ids(), what="the message after")
    finally:
        if sse:
            sse.close()
        for proc in (stream, web):
            proc.kill()
        redis.stop()


def test_the_embedded_mode_streams_with_sqlite_and_no_redis(tmp_path):
    """make run with nothing configured: gunicorn (web) and uvicorn (stream) share the SQLite file."""
    var = tmp_path / "var"
    embedded = {"KILOPUSH_VAR_DIR": str(var)}
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(embedded)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    web = start_gunicorn(tmp_path, **embedded)
    stream = start_stream(tmp_path, **embedded)
    sse = None
    try:
        status, me = post_json(web.url + "/v1/app/register", {"platform": "web"})
        assert status == 201, me
        status, owner = post_json(web.url + "/v1/app/register", {"platform": "web"})
        status, channel = post_json(web.url + "/v1/app/channels", {"name": "Doorbell"}, owner["access_token"])
        assert status == 201, channel
        sse = SseClient(stream.url + "/v1/app/stream", me["access_token"])
        sse.wait_for(lambda c: c.comments, what="the opening comment")
        body = {"to": me["user_token"], "token": channel["token"], "secret": channel["secret"], "message": "Ding"}
        status, answer = post_json(web.url + "/v1/messages/send", body)
        assert status == 200, answer
        message_id = int(answer["response"]["id"])
        [event] = sse.wait_for_messages(1)
        assert int(event.id) == message_id and event.json()["message"] == "Ding"
        status, _ = post_json(web.url + f"/v1/app/messages/{message_id}/read", {}, me["access_token"])
        assert status == 204
        sse.wait_for(lambda c: any(e.event == "read" for e in c.events), what="the read event")
        assert [e.json() for e in sse.events if e.event == "read"] == [{"ids": [message_id]}]
        assert "Redis" not in stream.log()
    finally:
        if sse:
            sse.close()
        stream.kill()
        web.kill()


def test_nginx_with_the_deploy_configuration_streams_unbuffered(tmp_path):
    env = {"DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL, "STREAM_KEEPALIVE": "1"}
    web = start_gunicorn(tmp_path, **env)
    stream = start_stream(tmp_path, **env)
    nginx = start_nginx(tmp_path, web_port=web.url.rsplit(":", 1)[1], stream_port=stream.port, var_dir=tmp_path / "var")
    sse = None
    try:
        site = f"http://127.0.0.1:{nginx.port}"
        person = make_person(platform="web", push_token="")
        channel = channel_create(owner=make_person().user, name="Front door")
        sse = SseClient(site + "/v1/app/stream", person.access_token)
        assert sse.status == 200
        sse.wait_for(lambda c: len([m for _, m in c.comments if m == "keepalive"]) >= 2, what="keepalives via nginx")
        body = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Knock"}
        status, answer = post_json(site + "/v1/messages/send", body)  # the rest goes to gunicorn
        assert status == 200, answer
        [event] = sse.wait_for_messages(1)
        assert int(event.id) == int(answer["response"]["id"])
        status, _, _ = http("GET", site + "/healthz")
        assert status == 200
        unauthorized = SseClient(site + "/v1/app/stream")
        assert unauthorized.status == 401 and json.loads(unauthorized.body)["response"]["status"] == 4001
    finally:
        if sse:
            sse.close()
        nginx.kill()
        stream.kill()
        web.kill()
