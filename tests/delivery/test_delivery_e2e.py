"""End to end: the send API, the real Redis, a real `celery worker` process and the fake FCM/APNs servers.

Each test starts its own worker (with embedded beat for the sweep) and always kills it.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings

from channels_app.services import channel_create
from messaging.models import Delivery
from tests.people import make_person
from tests.delivery_fixtures import fake_env
from users_app.models import Device

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


def database_url():
    db = settings.DATABASES["default"]
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "kilopush", "worker", "-B", "--pool", "prefork", "--concurrency",
             "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"e2e-{os.getpid()}-{time.monotonic_ns()}@localhost"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self):
        return Path(self.log_path).read_text()

    def wait_ready(self):
        deadline = time.monotonic() + WAIT
        while "ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("worker did not start:\n" + self.output())
            time.sleep(0.1)

    def kill(self, sig=signal.SIGKILL):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.log.close()


@pytest.fixture
def start_worker(transactional_db, fcm, apns, tmp_path):
    workers = []

    def _start(**overrides):
        env = {
            **os.environ,
            **fake_env(fcm, apns),
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "KILOPUSH_VAR_DIR": str(tmp_path / f"var{len(workers)}"),
            "DELIVERY_RETRY_BASE_DELAY": "0.2",
            "DELIVERY_SWEEP_INTERVAL": "1",
            "DELIVERY_REQUEUE_AFTER": "2",
            "DELIVERY_CLAIM_TIMEOUT": "3",
            "DB_CONN_MAX_AGE": "0",
            **overrides,
        }
        worker = Worker(env, tmp_path / f"worker{len(workers)}.log")
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield _start
    for worker in workers:
        worker.kill()


def wait_for_states(message_id, states, workers=()):
    deadline = time.monotonic() + WAIT
    while True:
        current = sorted(Delivery.objects.filter(message_id=message_id).values_list("state", flat=True))
        if current == sorted(states):
            return list(Delivery.objects.filter(message_id=message_id).select_related("device"))
        if time.monotonic() > deadline:
            logs = "\n".join(w.output()[-4000:] for w in workers)
            raise AssertionError(f"deliveries of {message_id} are {current}, not {states}\n{logs}")
        time.sleep(0.1)


@pytest.fixture
def sender(client):
    owner = make_person()
    channel = channel_create(owner=owner.user, name="Front door")

    def _send(person, **fields):
        body = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": "Ding dong", **fields}
        response = client.post("/v1/messages/send", json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content
        return int(response.json()["response"]["id"])

    _send.channel = channel
    return _send


def test_a_message_reaches_android_and_ios_with_the_payload_rules(start_worker, sender, fcm, apns):
    person = make_person(platform="android", push_token="fcm-e2e")
    Device.objects.create(user=person.user, platform="ios", push_token="ef" * 32)
    worker = start_worker()
    message_id = sender(person, url="https://example.com/door", important=1)
    wait_for_states(message_id, [Delivery.ACCEPTED] * 2, [worker])
    [android] = fcm.script.accepted("fcm-e2e")
    assert android["message"]["notification"]["title"] == "Front door"
    assert android["message"]["android"]["notification"]["channel_id"] == "important"
    assert android["message"]["data"] == {"message_id": str(message_id), "channel_token": sender.channel.token,
                                          "url": "https://example.com/door", "priority": "1"}
    [ios] = apns.script.accepted("ef" * 32)
    assert ios["payload"]["aps"]["alert"] == {"title": "Front door", "body": "Ding dong"}
    assert ios["payload"]["aps"]["interruption-level"] == "time-sensitive"
    assert ios["payload"]["aps"]["badge"] == 1
    assert ios["headers"]["apns-collapse-id"] == str(message_id)


def test_transient_errors_end_in_exactly_one_delivery(start_worker, sender, fcm, apns):
    person = make_person(platform="android", push_token="fcm-flaky")
    Device.objects.create(user=person.user, platform="ios", push_token="12" * 32)
    fcm.script.set_outcomes("fcm-flaky", ["unavailable", "rate_limited:1", "internal_empty", "drop", "ok"])
    apns.script.set_outcomes("12" * 32, ["internal_empty", "rate_limited:1", "unavailable", "drop", "ok"])
    worker = start_worker()
    message_id = sender(person)
    rows = wait_for_states(message_id, [Delivery.ACCEPTED] * 2, [worker])
    assert [row.attempts for row in rows] == [5, 5]
    assert len(fcm.script.accepted("fcm-flaky")) == 1
    assert len(apns.script.accepted("12" * 32)) == 1


def test_a_dead_token_is_retired_and_never_pushed_again(start_worker, sender, fcm):
    person = make_person(platform="android", push_token="fcm-dead")
    fcm.script.set_outcomes("fcm-dead", ["unregistered"])
    worker = start_worker()
    first = sender(person)
    wait_for_states(first, [Delivery.INVALID_TOKEN], [worker])
    device = Device.objects.get(user=person.user)
    assert not device.is_active and "UNREGISTERED" in device.deactivation_reason
    second = sender(person)
    assert not Delivery.objects.filter(message_id=second).exists()
    assert [p["token"] for p in fcm.script.pushes] == ["fcm-dead"]


def test_a_message_whose_task_was_lost_is_delivered_by_the_sweep(start_worker, sender, fcm):
    person = make_person(platform="android", push_token="fcm-lost")
    message_id = sender(person)
    redis.Redis.from_url(settings.REDIS_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)  # the nudge is lost
    worker = start_worker()
    wait_for_states(message_id, [Delivery.ACCEPTED], [worker])
    assert len(fcm.script.accepted("fcm-lost")) == 1


def test_a_killed_workers_delivery_is_finished_by_another(start_worker, sender, fcm):
    person = make_person(platform="android", push_token="fcm-killed")
    fcm.script.set_outcomes("fcm-killed", ["hang"])
    first = start_worker()
    message_id = sender(person)
    fcm.script.wait_for(lambda pushes: len(pushes) == 1, timeout=WAIT)
    first.kill()  # mid-send: the delivery stays claimed by a worker that is gone
    assert Delivery.objects.get(message_id=message_id).state == Delivery.SENDING
    second = start_worker()
    [row] = wait_for_states(message_id, [Delivery.ACCEPTED], [second])
    assert row.attempts == 2
    assert len(fcm.script.accepted("fcm-killed")) == 1


def test_the_embedded_mode_delivers_with_sqlite_and_the_filesystem_broker(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KILOPUSH_VAR_DIR=str(tmp_path / "var"), DELIVERY_SWEEP_INTERVAL="1", PYTHONPATH=str(ROOT))
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], **run)
    assert migrate.returncode == 0, migrate.stderr
    send = subprocess.run([sys.executable, "-c", EMBEDDED_SEND], **run)
    assert send.returncode == 0, send.stderr
    message_id = int(send.stdout.strip())
    worker = Worker(env, tmp_path / "embedded-worker.log")
    try:
        worker.wait_ready()
        deadline = time.monotonic() + WAIT
        query = [sys.executable, "-c", EMBEDDED_STATE, str(message_id)]
        while (state := subprocess.run(query, **run).stdout.strip()) != "accepted":
            assert time.monotonic() < deadline, f"delivery is {state!r}\n{worker.output()}"
            time.sleep(0.3)
        assert "pushes are written to the log" in worker.output()
        assert "'Ding dong'" in worker.output()
    finally:
        worker.kill()


EMBEDDED_SEND = """
import django, json
django.setup()
from django.test import Client
from channels_app.services import channel_create
from users_app.services import app_user_create
user, _ = app_user_create(platform="android", push_token="fcm-embedded")
owner, _ = app_user_create()
channel = channel_create(owner=owner, name="Embedded")
body = {"to": user.token, "token": channel.token, "secret": channel.secret, "message": "Ding dong"}
response = Client(HTTP_HOST="127.0.0.1").post("/v1/messages/send", json.dumps(body), content_type="application/json")
assert response.status_code == 200, response.content
print(response.json()["response"]["id"])
"""

EMBEDDED_STATE = """
import django, sys
django.setup()
from messaging.models import Delivery
print(Delivery.objects.get(message_id=int(sys.argv[1])).state)
"""


def test_a_worker_keeps_its_database_connection_from_task_to_task(start_worker, sender, fcm):
    """Celery's Django fixup would close it before and after every task (a new backend per task,
    prepared statements lost); CELERY_DB_REUSE_MAX and kilopush/celery.py keep it for CONN_MAX_AGE."""
    from django.db import connection

    person = make_person(platform="android", push_token="fcm-keep")
    worker = start_worker(DB_CONN_MAX_AGE="60")
    wait_for_states(sender(person), [Delivery.ACCEPTED], [worker])
    seen = set()

    def sample():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            seen.update(pid for (pid,) in cursor.fetchall())

    for i in range(5):
        message_id = sender(person, message=f"#{i}")
        deadline = time.monotonic() + WAIT
        while Delivery.objects.filter(message_id=message_id, state=Delivery.ACCEPTED).count() < 1:
            sample()
            assert time.monotonic() < deadline, worker.output()[-4000:]
            time.sleep(0.005)
        sample()
    # The worker's pool process and its main process (start-up checks): two backends at most, not one per task.
    assert 1 <= len(seen) <= 2, seen
