"""PgBouncer in transaction mode (Debian's, 1.18) between every process and PostgreSQL, DB_PREPARED_STATEMENTS on.

Each transaction may get another server connection: a statement psycopg prepared in one is missing in the
next. Behind the pooler the hot statements run unprepared (kilopush/postgresql/base.py), and a prepared
statement the server lost is run again unprepared (kilopush/queries.py).
"""

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from channels_app.services import channel_create, channel_set_verified
from kilopush.postgresql.base import behind_pooler
from tests.chaos_support import INTERVALS, accepted_counts, recipients, send_bodies, undelivered, wait_until
from tests.delivery_fixtures import fake_env
from tests.helpers import status_of
from tests.nodes.pgbouncer import PgBouncer
from tests.people import make_person
from tests.procs import RedisServer, database_url_for, start_gunicorn, start_worker

pytestmark = pytest.mark.slow

MESSAGES = 600


@pytest.fixture
def pgbouncer(tmp_path):
    bouncer = PgBouncer(tmp_path)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def connect(port):
    db = settings.DATABASES["default"]
    return psycopg.connect(host=db["HOST"] or "127.0.0.1", port=port, user=db["USER"], dbname=db["NAME"],
                           autocommit=True)


def test_a_connection_through_pgbouncer_is_seen_to_be_pooled_and_a_direct_one_is_not(pgbouncer):
    with connect(pgbouncer.port) as pooled, connect(settings.DATABASES["default"]["PORT"] or 5432) as direct:
        assert behind_pooler(pooled)
        assert not behind_pooler(direct)


def test_sends_and_deliveries_through_pgbouncer_answer_no_5xx_and_push_each_message_once(
        transactional_db, pgbouncer, private_redis, bursts, fcm, apns, tmp_path):
    channel = channel_create(owner=make_person().user, name="Boiler")
    channel_set_verified(channel=channel, verified=True)  # beyond the daily limit of unverified channels
    people = recipients(20, prefix="bouncer")
    through_pooler = {"DATABASE_URL": database_url_for(pgbouncer.port), "DB_PREPARED_STATEMENTS": "true",
                      "DB_CONN_MAX_AGE": "60"}
    web = start_gunicorn(tmp_path, REDIS_URL=private_redis.url, WEB_CONCURRENCY=2, WEB_THREADS=4, **through_pooler)
    worker = start_worker(tmp_path, concurrency=2, REDIS_URL=private_redis.url,
                          **{**fake_env(fcm, apns), **INTERVALS, **through_pooler})
    try:
        burst = bursts(web.url, send_bodies(channel, people, MESSAGES), threads=8)
        answers = burst.wait(240)
        failed = [(a.status, getattr(a, "error", "")) for a in answers if a.status != 200]
        assert not failed, f"{len(failed)} of {MESSAGES} sends failed, e.g. {failed[:3]}\n{web.log()[-3000:]}"
        message_ids = [a.message_id for a in answers]
        wait_until(lambda: undelivered(message_ids) == 0, 180, "every delivery accepted", [worker, web])
        counts = accepted_counts(fcm, apns)
        assert len(counts) == MESSAGES
        assert set(counts.values()) == {1}, "a message was pushed twice"
        for proc in (web, worker):  # the pooler was seen at connection, so no statement had to be run again
            assert "reached through a pooler" in proc.log()
            assert "prepared statement was lost" not in proc.log()
    finally:
        web.kill()
        worker.kill()


def test_a_lost_prepared_statement_is_run_again_unprepared_and_the_send_is_kept(transactional_db, send, valid_fields):
    for _ in range(6):  # prepared on its 5th run on this connection
        assert status_of(send(valid_fields)) == 200
    with connection.cursor() as cursor:  # what another server connection behind a pooler looks like
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement LIKE %s", ["%WITH context AS%"])
        [(name,)] = cursor.fetchall()
        cursor.execute(f'DEALLOCATE "{name}"')  # by name: psycopg forgets its statements on DEALLOCATE ALL
    assert status_of(send(valid_fields)) == 200
    assert connection.connection.prepare_threshold is None  # this connection prepares nothing more
    assert status_of(send(valid_fields)) == 200
