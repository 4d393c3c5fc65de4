"""PostgreSQL unreachable: the send API answers the 500 envelope at once, /healthz 503, and both recover."""

import json
import time

import pytest

from messaging.models import Message
from tests.procs import TcpProxy, http, start_gunicorn, database_url_for


@pytest.fixture
def database_link(transactional_db):
    from django.conf import settings

    proxy = TcpProxy(int(settings.DATABASES["default"]["PORT"] or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def web(database_link, tmp_path):
    from django.conf import settings

    server = start_gunicorn(
        tmp_path, DATABASE_URL=database_url_for(database_link.port), REDIS_URL=settings.REDIS_URL, DB_CONNECT_TIMEOUT=2
    )
    yield server
    server.kill()


def post_send(web, fields):
    status, _, body = http("POST", web.url + "/v1/messages/send", json.dumps(fields))
    return status, json.loads(body)


def test_the_send_api_answers_500_quickly_while_the_database_is_down(web, database_link, valid_fields):
    assert post_send(web, valid_fields)[1]["response"]["status"] == 200
    database_link.cut()
    started = time.monotonic()
    status, body = post_send(web, valid_fields)
    elapsed = time.monotonic() - started
    assert status == 500
    assert body == {"response": {"status": 500, "message": "Internal server error"}}
    assert elapsed < 5
    assert Message.objects.count() == 1


def test_healthz_answers_503_while_the_database_is_down(web, database_link):
    database_link.cut()
    status, _, body = http("GET", web.url + "/healthz")
    assert status == 503
    assert json.loads(body)["database"] == "error"


def test_the_send_api_recovers_on_its_own_when_the_database_returns(web, database_link, valid_fields):
    database_link.cut()
    assert post_send(web, valid_fields)[0] == 500
    database_link.restore()
    # Every web worker must recover, not just one: send more times than there are workers.
    answers = [post_send(web, valid_fields)[1]["response"]["status"] for _ in range(6)]
    assert answers == [200] * 6
    assert http("GET", web.url + "/healthz")[0] == 200
    assert Message.objects.count() == 6


def test_sends_succeed_after_postgresql_terminated_every_kept_connection(web, database_link, valid_fields):
    """A restart or an operator's pg_terminate_backend: the health check finds the dead connections
    (kilopush/postgresql/base.py, no round trip while they are well) and every worker reconnects."""
    from django.db import connection

    answers = [post_send(web, valid_fields)[1]["response"]["status"] for _ in range(6)]
    assert answers == [200] * 6
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        assert cursor.fetchone()[0] >= 1
    time.sleep(0.2)  # the goodbyes reach the web workers' sockets
    answers = [post_send(web, valid_fields)[1]["response"]["status"] for _ in range(6)]
    assert answers == [200] * 6
    assert Message.objects.count() == 12
