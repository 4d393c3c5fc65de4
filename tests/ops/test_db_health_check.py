"""CONN_HEALTH_CHECKS without a round trip (kilopush/postgresql/base.py)."""

import os
import select

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


@pytest.mark.django_db(transaction=True)
def test_a_connection_whose_socket_number_is_over_1024_is_still_checked_without_a_query():
    """A web worker holding many client sockets: select() would refuse such a descriptor."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.fail(f"the file descriptor limit ({hard}) is too low for this test")
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard) if hard != resource.RLIM_INFINITY else 4096, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'over 1024'")
        assert connection.connection.fileno() > 1024
        pid = connection.connection.info.backend_pid
        assert connection.is_usable()
        assert last_query_of(pid) == "SELECT 'over 1024'"
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
