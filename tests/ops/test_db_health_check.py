"""CONN_HEALTH_CHECKS without a round trip (kilopush/postgresql/base.py)."""

import select
import time

import psycopg
import pytest
from django.db import connection


def last_query_of(pid):
    """What the backend `pid` ran last, asked on another connection."""
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
                         autocommit=True) as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_healthy_idle_connection_is_usable_without_a_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last query before the check'")
    pid = connection.connection.info.backend_pid
    assert connection.is_usable()
    assert last_query_of(pid) == "SELECT 'the last query before the check'"


@pytest.mark.django_db(transaction=True)
def test_a_terminated_connection_is_unusable():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")},
                         autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    select.select([connection.connection.fileno()], [], [], 5)  # the goodbye arrives
    assert not connection.is_usable()
    connection.close()
    connection.ensure_connection()  # Django reconnects; the test database is still there
    assert connection.is_usable()


def test_the_backend_is_the_projects_on_postgresql():
    from django.db import connections

    assert connections["default"].vendor == "postgresql"
    assert type(connections["default"]).__module__ == "kilopush.postgresql.base"
