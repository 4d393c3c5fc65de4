"""Django's PostgreSQL backend, with a health check that needs no round trip and a pooler detected (DATABASES ENGINE).

CONN_HEALTH_CHECKS makes Django check a kept connection before a request's first query; its
PostgreSQL backend does that with `SELECT 1`, a round trip on every request. Here the check
looks at the idle connection's socket instead: a server that restarted, or terminated the
backend, has sent its goodbye (an error message, then EOF), so the socket is readable. Only
then is `SELECT 1` asked, to tell a goodbye from an unsolicited notice. A connection psycopg
already knows to be closed or broken is unusable without asking.

A pooler in transaction mode (PgBouncer) gives each transaction whichever server connection is
free, so a statement prepared in one is missing in the next (`prepared statement "_pg3_0" does not
exist`), or another client's statement of the same name is there. A pooler answers the client's
start-up itself, with a backend key of its own: a new connection whose key differs from the server's
`pg_backend_pid()` is behind one, and it prepares nothing (kilopush.queries.hot_cursor).
"""

import select

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from kilopush.postgresql import say_once


def behind_pooler(pg_connection):
    """True when the backend answering is not the one named at start-up: a pooler sits in between."""
    with pg_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0] != pg_connection.info.backend_pid


class DatabaseWrapper(base.DatabaseWrapper):
    def init_connection_state(self):
        super().init_connection_state()
        pg_connection = self.connection
        if pg_connection.prepare_threshold is None or settings.DB_PREPARE_BEHIND_POOLER:
            return
        pooled = behind_pooler(pg_connection)
        if not self.get_autocommit():
            pg_connection.commit()
        if pooled:
            pg_connection.prepare_threshold = None
            say_once("pooler", "The database is reached through a pooler (PgBouncer?): the hot statements run "
                               "unprepared (DB_PREPARE_BEHIND_POOLER=true prepares them there too)")

    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()  # not select(): a busy web worker's sockets may number over 1024
            poller.register(connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        return super().is_usable() if readable else True
