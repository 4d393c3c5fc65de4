"""How much of a send's CPU is Django around the view: `python -m bench.experiments.handler_split [ROUNDS]`.

Needs DATABASE_URL (PostgreSQL, migrated) and REDIS_URL, as `python -m bench.send_cost parts`. In one thread,
through no server, it calls the send API's handler (kilopush/wsgi.py) four ways and the bare view once, in
rounds of 300 requests each, the five interleaved so that the machine's drift falls on all of them alike:

- the send through the WSGI application, as gunicorn calls it (the send chain's middleware included);
- the same handler built with no middleware (Django's request, URL match, response and signals);
- the view called with a WSGIRequest, between request_started and the response's close (request_finished);
- the view called with a WSGIRequest alone;
- the bare view through the WSGI application (the full middleware).

Prints the thread's CPU per request of each: the median and the range over ROUNDS (12) rounds.
"""

import io
import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
os.environ.setdefault("ROOT_URLCONF", "bench.urls")

from bench.send_cost import device_less_send  # noqa: E402  (sets Django up)
from django.conf import settings  # noqa: E402
from django.core import signals  # noqa: E402
from django.core.handlers.wsgi import WSGIRequest  # noqa: E402

from kilopush.wsgi import SendAPIHandler, application  # noqa: E402
from messaging.send.views import send_message  # noqa: E402

PER_ROUND = 300


def environ(path, body):
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
            "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
            "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": sys.stderr}


def through(handler, path):
    def call(body):
        answer = handler(environ(path, body), lambda status, headers, *rest: None)
        b"".join(answer)
        answer.close()
    return call


def view_between_signals(body):
    signals.request_started.send(sender=SendAPIHandler, environ=None)
    response = send_message(WSGIRequest(environ("/v1/messages/send", body)))
    response.close()  # sends request_finished


def view_alone(body):
    send_message(WSGIRequest(environ("/v1/messages/send", body)))


def handler_without_middleware():
    middleware = settings.MIDDLEWARE
    settings.MIDDLEWARE = []
    try:
        return SendAPIHandler()  # its chain is send_middleware() of no middleware
    finally:
        settings.MIDDLEWARE = middleware


def main(rounds):
    ways = {
        "the send (WSGI application)": through(application, "/v1/messages/send"),
        "the send's handler, no middleware": through(handler_without_middleware(), "/v1/messages/send"),
        "the view between the two signals": view_between_signals,
        "the view alone": view_alone,
        "the bare view (WSGI application)": through(application, "/bench/bare"),
    }
    spent = {name: [] for name in ways}
    with device_less_send("bench handler split") as fields:
        body = json.dumps(fields).encode()
        for call in ways.values():
            for _ in range(200):  # warm-up
                call(body)
        for _ in range(rounds):
            for name, call in ways.items():
                started = time.thread_time()
                for _ in range(PER_ROUND):
                    call(body)
                spent[name].append((time.thread_time() - started) / PER_ROUND * 1e6)
    for name, values in spent.items():
        print(f"{name:36} {statistics.median(values):5.0f} us of CPU per request "
              f"(median of {rounds} rounds, {min(values):.0f}-{max(values):.0f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
