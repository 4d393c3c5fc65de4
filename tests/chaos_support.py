"""What the fault tests (tests/faults/) share: their scale, the platform's processes, bursts, push accounting.

Short versions run in `make test`. `make chaos` sets KILOPUSH_CHAOS=1: larger bursts, longer outages and the
production intervals; it prints the figures the tests report (tests/chaos_report.py).
"""

import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from messaging.models import Delivery
from tests.chaos_report import report  # noqa: F401 (re-exported for the tests)
from tests.delivery_fixtures import fake_env
from tests.procs import RedisServer, database_url_for, http, start_gunicorn, start_worker

CHAOS = os.getenv("KILOPUSH_CHAOS", "") not in ("", "0")
WAIT_STEP = 0.1


def pick(short, long):
    """The short version's value in `make test`, the long one in `make chaos`."""
    return long if CHAOS else short


# The settings production runs with (kilopush/settings.py), and the shortened ones of `make test`.
PRODUCTION_INTERVALS = {"DELIVERY_SWEEP_INTERVAL": 10, "DELIVERY_REQUEUE_AFTER": 60, "DELIVERY_CLAIM_TIMEOUT": 15}
SHORT_INTERVALS = {"DELIVERY_SWEEP_INTERVAL": 1, "DELIVERY_REQUEUE_AFTER": 2, "DELIVERY_CLAIM_TIMEOUT": 5}
INTERVALS = pick(SHORT_INTERVALS, PRODUCTION_INTERVALS)

# --- waiting -------------------------------------------------------------------------------


def wait_until(predicate, timeout, what, logs=()):
    """Polls predicate() until it is true; fails with `what` and the processes' logs after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {proc.log_path}\n{proc.log()[-3000:]}" for proc in logs)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
        time.sleep(WAIT_STEP)
    return value


# --- the platform: a private Redis, gunicorn and celery workers ------------------------------


class Platform:
    """A private Redis (broker and cache of every process here), gunicorn and workers; all killed on close."""

    def __init__(self, tmp_path, fcm, apns):
        self.tmp_path, self.fcm, self.apns = tmp_path, fcm, apns
        self.redis = RedisServer(tmp_path)
        self.processes = []

    def web(self, **env):
        proc = start_gunicorn(self.tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=self.redis.url, **env)
        self.processes.append(proc)
        return proc

    def worker(self, redis_url=None, **env):
        settings = {**fake_env(self.fcm, self.apns), **INTERVALS, **env}
        proc = start_worker(self.tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=redis_url or self.redis.url,
                            **settings)
        self.processes.append(proc)
        return proc

    def close(self):
        for proc in self.processes:
            proc.kill()
        self.redis.stop()


@pytest.fixture
def platform(transactional_db, fcm, apns, tmp_path):
    platform = Platform(tmp_path, fcm, apns)
    yield platform
    platform.close()


def control(fake, path, body):
    """The stand-in's control API over HTTP, as an operator would drive it."""
    base = fake.control_url if hasattr(fake, "control_url") else fake.url
    status, _, answer = http("POST", base + path, json.dumps(body), timeout=5)
    assert status == 200, answer


# --- bursts of sends -------------------------------------------------------------------------


@dataclass
class Answer:
    status: int  # the envelope's status (200, 4029, ...) or the HTTP status when there is no envelope
    message_id: int | None
    started: float  # time.time()
    finished: float


class Burst:
    """POSTs bodies to the send API from a few threads in the background and keeps every answer."""

    def __init__(self, url, bodies, threads=4):
        self.url, self.bodies = url + "/v1/messages/send", bodies
        self.answers = [None] * len(bodies)
        self._done = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="burst")
        self._futures = [self._pool.submit(self._send, i) for i in range(len(bodies))]

    def _send(self, i):
        started = time.time()
        try:
            status, _, body = http("POST", self.url, json.dumps(self.bodies[i]), timeout=30)
            envelope = json.loads(body)["response"]
            answer = Answer(envelope["status"], int(envelope["id"]) if "id" in envelope else None, started, time.time())
        except Exception as exc:  # a hang, a dropped connection or an HTML page: kept as a failure
            answer = Answer(-1, None, started, time.time())
            answer.error = repr(exc)
        self.answers[i] = answer
        with self._lock:
            self._done += 1

    @property
    def done(self):
        return self._done

    def wait(self, timeout):
        wait_until(lambda: self._done == len(self.bodies), timeout, f"{len(self.bodies)} sends")
        self._pool.shutdown()
        return self.answers

    def cancel(self):
        self._pool.shutdown(wait=True, cancel_futures=True)

    def statuses(self):
        """Counter of the answers so far."""
        return Counter(a.status for a in list(self.answers) if a is not None)

    def accepted(self):
        return [a for a in list(self.answers) if a is not None and a.status == 200]


@pytest.fixture
def bursts():
    started = []

    def _start(url, bodies, threads=4):
        burst = Burst(url, bodies, threads)
        started.append(burst)
        return burst

    yield _start
    for burst in started:
        burst.cancel()


# --- what the stand-ins received ---------------------------------------------------------------


@dataclass(frozen=True)
class SeenPush:
    token: str
    message_id: int
    collapse_id: str  # APNs apns-collapse-id, FCM android.notification.tag
    answer: str
    time: float


def seen_pushes(fcm, apns):
    """Every push the stand-ins received, in the order they received them (per stand-in)."""
    pushes = []
    for p in fcm.script.snapshot()["pushes"]:
        message = p["message"]
        tag = ((message.get("android") or {}).get("notification") or {}).get("tag", "")
        pushes.append(SeenPush(p["token"], int(message["data"]["message_id"]), tag, p["answer"], p["time"]))
    for p in apns.script.snapshot()["pushes"]:
        pushes.append(SeenPush(p["token"], int(p["payload"]["message_id"]), p["headers"].get("apns-collapse-id", ""),
                               p["answer"], p["time"]))
    return pushes


def accepted_counts(fcm, apns):
    """{(device token, message id): pushes the stand-ins answered ok}."""
    return Counter((p.token, p.message_id) for p in seen_pushes(fcm, apns) if p.answer == "ok")


def undelivered(message_ids):
    """How many deliveries of these messages are not accepted yet."""
    return Delivery.objects.filter(message_id__in=message_ids).exclude(state=Delivery.ACCEPTED).count()


def repush_delays(pushes, keys, since):
    """Seconds from `since` (time.time()) to the first push of each (token, message id) in `keys` after it."""
    first = {}
    for push in pushes:
        key = (push.token, push.message_id)
        if key in keys and push.time >= since:
            first[key] = min(first.get(key, push.time), push.time)
    return {key: first[key] - since for key in first}


def deliveries_by_key(message_ids):
    """{(device token, message id): Delivery} of these messages."""
    rows = Delivery.objects.filter(message_id__in=message_ids).select_related("device")
    return {(row.device.push_token, row.message_id): row for row in rows}


# --- senders and recipients -----------------------------------------------------------------------


def recipients(count, prefix="chaos"):
    """People with one device each, Android and iOS in turn."""
    from tests.people import make_person

    people = []
    for i in range(count):
        if i % 2:
            people.append(make_person(platform="ios", push_token=prefix.encode().hex()[:8].ljust(8, "0") + f"{i:056x}"))
        else:
            people.append(make_person(platform="android", push_token=f"fcm-{prefix}-{i}"))
    return people


def send_bodies(channel, people, count, text="chaos"):
    return [{"to": people[i % len(people)].token, "token": channel.token, "secret": channel.secret,
             "message": f"{text} {i}"} for i in range(count)]
