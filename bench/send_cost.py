"""The CPU cost of one accepted send, in process (no HTTP): `python -m bench.send_cost [N] [THREADS]`.

Needs DATABASE_URL (PostgreSQL, migrated) and REDIS_URL. Sends N messages through Django's test
client to a verified channel (no quota write) for a recipient without devices, and prints the
mean and median wall time per send; run it twice and compare, e.g. before and after a change.

With THREADS > 1, THREADS threads send N messages each at once, and it prints the sends per second
and the sends per Redis PUBLISH (the stream wake-ups' round trips they shared; Redis counts them all,
so run it on a quiet Redis).

`python -m bench.send_cost parts [N]`: where a send's CPU goes in one thread, through the WSGI application
(no server, no socket): the thread's CPU per request of the send and of the benchmark's bare view, and of
the send's parts, each measured around its own calls (nested parts are inside their callers' figures).
"""

import contextlib
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
os.environ.setdefault("ROOT_URLCONF", "bench.urls")  # the platform's URLs and the bare view

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

from channels_app.models import Channel  # noqa: E402
from channels_app.services import channel_create  # noqa: E402
from messaging.models import Message  # noqa: E402
from users_app.services import app_user_create  # noqa: E402


@contextlib.contextmanager
def device_less_send(name):
    """The body of a send to a recipient without devices on a verified channel (no quota write); all gone after."""
    owner, _ = app_user_create(platform="web", push_token="")
    recipient, _ = app_user_create(platform="web", push_token="")
    channel = channel_create(owner=owner, name=name)
    Channel.objects.filter(pk=channel.pk).update(is_verified=True)
    try:
        yield {"to": recipient.token, "token": channel.token, "secret": channel.secret, "message": "x"}
    finally:
        Message.objects.filter(channel=channel).delete()
        channel.delete()
        owner.delete()
        recipient.delete()


def main(n):
    client = Client(HTTP_HOST="127.0.0.1")
    times = []
    with device_less_send("bench send cost") as body:
        for i in range(n + 200):
            started = time.perf_counter()
            response = client.post("/v1/messages/send", body, content_type="application/json")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.content
            if i >= 200:  # warm-up
                times.append(elapsed)
    print(f"{n} sends: mean {statistics.mean(times) * 1e6:.0f} us, median {statistics.median(times) * 1e6:.0f} us, "
          f"p99 {sorted(times)[int(n * 0.99)] * 1e6:.0f} us")


def threaded(n, threads):
    """THREADS threads of N sends each to one recipient without devices: sends/s and sends per PUBLISH."""
    import threading

    import redis
    from django.conf import settings
    from django.db import connection

    server = redis.Redis.from_url(settings.REDIS_URL)

    def publishes():
        return server.info("commandstats").get("cmdstat_publish", {}).get("calls", 0)

    def sender(body):
        client = Client(HTTP_HOST="127.0.0.1")
        try:
            for _ in range(n):
                response = client.post("/v1/messages/send", body, content_type="application/json")
                assert response.status_code == 200, response.content
        finally:
            connection.close()

    with device_less_send("bench send cost, threads") as body:
        before, started = publishes(), time.perf_counter()
        workers = [threading.Thread(target=sender, args=(body,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        time.sleep(0.1)  # the last lingering round trip
        published = publishes() - before
    sends = n * threads
    print(f"{threads} threads x {n} sends: {sends / elapsed:.0f} sends/s, {sends / max(published, 1):.2f} sends per "
          f"PUBLISH (DELIVERY_NUDGE_LINGER_MS={settings.DELIVERY_NUDGE_LINGER_MS:g})")


def metrics_only(n=100_000):
    """What the send path adds for metrics: send_answered (a counter and a histogram) and message_accepted."""
    from kilopush import metrics

    started = time.perf_counter()
    for _ in range(n):
        metrics.send_answered(200, 0.012)
        metrics.message_accepted(False)
    print(f"metrics per send: {(time.perf_counter() - started) / n * 1e6:.1f} us (mean of {n})")


# (module, attribute, label) of the send's parts that `parts` measures; the outermost first.
PARTS = (
    ("messaging.send.views", "_answer", "the view (_answer)"),
    ("messaging.send.request", "decode_body", "  the body read and parsed"),
    ("messaging.send.request", "validate", "  the fields checked"),
    ("messaging.send.views", "message_send", "  message_send"),
    ("kilopush.crypto", "digest", "    the secret's digest"),
    ("messaging.send.service", "_store_params", "    the statement's parameters"),
    ("messaging.send.service", "hot_cursor", "    the cursor (hot_cursor)"),
    ("kilopush.postgresql.base:DatabaseWrapper", "close_if_health_check_failed", "      the connection's health check"),
    ("kilopush.queries:_HotCursor", "execute", "    the statement's round trip (execute)"),
    ("messaging.send.service", "_accepted", "    the answer's headers, metrics and nudge (_accepted)"),
    ("messaging.send.views", "JsonAnswer", "  the JSON answer"),
)


def parts(n):
    """The thread's CPU per send and per bare view through kilopush.wsgi.application, and per part (PARTS)."""
    import importlib
    import io
    import json

    from kilopush.wsgi import application

    spent = {}

    def measured(owner, name, label):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.thread_time() - started

        setattr(owner, name, wrapper)

    for where, name, label in PARTS:
        module, _, cls = where.partition(":")
        owner = importlib.import_module(module)
        measured(getattr(owner, cls) if cls else owner, name, label)

    def call(path, body):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                   "CONTENT_TYPE": "application/json", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": sys.stderr}
        status = []
        answer = application(environ, lambda line, headers, *rest: status.append(line))
        content = b"".join(answer)
        answer.close()
        assert status[0].startswith("200"), content

    with device_less_send("bench send parts") as fields:
        body = json.dumps(fields).encode()
        for path in ("/bench/bare", "/v1/messages/send"):
            for _ in range(300):  # warm-up
                call(path, body)
            spent.clear()
            started = time.thread_time()
            for _ in range(n):
                call(path, body)
            print(f"{path}: {(time.thread_time() - started) / n * 1e6:.0f} us of CPU per request (mean of {n})")
        for _, _, label in PARTS:
            print(f"  {label}: {spent.get(label, 0.0) / n * 1e6:.0f} us")


if __name__ == "__main__":
    if sys.argv[1:2] == ["parts"]:
        parts(int(sys.argv[2]) if len(sys.argv) > 2 else 3000)
        sys.exit()
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    if len(sys.argv) > 2 and int(sys.argv[2]) > 1:
        threaded(count, int(sys.argv[2]))
    else:
        metrics_only()
        main(count)
