"""The embedded default's processes (gunicorn and `celery worker` on the filesystem broker, no Redis) after a
burst: the worker takes every queued task at once, none waits for a poll.

Each send queues one task. While the worker's prefetch is full it waits, and no datagram comes once the
burst is spooled; only the ack of a finished task (kilopush/embedded_broker.py) tells it to look again.
Without that, each task behind the first waits out the worker loop's 2 s drain (the broker's own poll is
set to an hour here): about 100 s for a burst of 50, where the worker needs a few seconds.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from channels_app.services import channel_create, channel_set_verified
from messaging.models import Delivery
from tests.chaos_support import undelivered, wait_until
from tests.delivery_fixtures import fake_env
from tests.people import make_person
from tests.procs import database_url_for, http, start_gunicorn, start_worker

pytestmark = pytest.mark.slow

BURST = 50
# Far below the ~100 s a lost wake-up per task costs, far above the few seconds 50 short tasks take.
WAIT = 40.0


def test_the_worker_takes_a_spooled_burst_without_waiting_for_its_poll(transactional_db, fcm, apns, tmp_path):
    owner = make_person()
    channel = channel_create(owner=owner.user, name="Burst")
    channel_set_verified(channel=channel, verified=True)
    person = make_person(platform="android", push_token="fcm-embedded-burst")
    var = tmp_path / "var"
    embedded = {"DATABASE_URL": database_url_for(), "REDIS_URL": "", "KILOPUSH_VAR_DIR": str(var),
                "EMBEDDED_BROKER_POLL_INTERVAL": 3600, "DELIVERY_SWEEP_INTERVAL": 3600}
    web = start_gunicorn(tmp_path, **embedded)
    worker = None
    try:
        body = {"to": person.token, "token": channel.token, "secret": channel.secret}

        def send(text):
            status, _, answer = http("POST", web.url + "/v1/messages/send", json.dumps({**body, "message": text}))
            assert status == 200, answer
            return int(json.loads(answer)["response"]["id"])

        with ThreadPoolExecutor(4) as pool:
            burst = list(pool.map(send, [f"burst {i}" for i in range(BURST)]))
        spool = Path(var / "broker")
        assert len(list(spool.glob("*.msg"))) == BURST  # one task per send, none taken yet

        worker = start_worker(tmp_path, beat=False, concurrency=1, **fake_env(fcm, apns), **embedded)
        wait_until(lambda: worker.log().count("succeeded in") == BURST, WAIT, f"{BURST} tasks taken", [worker])
        assert not list(spool.glob("*.msg"))
        assert undelivered(burst) == 0
        assert Delivery.objects.filter(message_id__in=burst, state=Delivery.ACCEPTED).count() == BURST
    finally:
        if worker is not None:
            worker.kill()
        web.kill()
