"""Django's PostgreSQL backend with a health check that needs no round trip (DATABASES ENGINE).

CONN_HEALTH_CHECKS makes Django check a kept connection before a request's first query; its
PostgreSQL backend does that with `SELECT 1`, a round trip on every request. Here the check
looks at the idle connection's socket instead: a server that restarted, or terminated the
backend, has sent its goodbye (an error message, then EOF), so the socket is readable. Only
then is `SELECT 1` asked, to tell a goodbye from an unsolicited notice. A connection psycopg
already knows to be closed or broken is unusable without asking.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
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
