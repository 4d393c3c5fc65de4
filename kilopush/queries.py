"""Query building blocks shared by the apps' selectors (no app's models here)."""

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from psycopg.pq import TransactionStatus

from kilopush.postgresql import say_once


def count_subquery(queryset, field):
    """COUNT(*) of `queryset` rows whose `field` is the outer row, as an annotation (0 when none)."""
    counted = (
        queryset.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


class _HotCursor(psycopg.Cursor):
    """Falls back to an unprepared statement when the server lost, or never had, the prepared one.

    A pooler in transaction mode that the start-up check missed (kilopush/postgresql/base.py)
    hands each transaction another server connection. The failing statement did not run (it
    failed at Parse or Bind), so in autocommit it is run again, unprepared, and the send or the
    record is not lost; the connection prepares nothing more.
    """

    def execute(self, query, params=None, **kwargs):
        try:
            return super().execute(query, params, **kwargs)
        except (psycopg.errors.InvalidSqlStatementName, psycopg.errors.DuplicatePreparedStatement) as exc:
            self.connection.prepare_threshold = None
            say_once("lost-prepared", "A prepared statement was lost (%s): this connection's hot statements now "
                                      "run unprepared; behind PgBouncer < 1.22 set DB_PREPARED_STATEMENTS=false", exc)
            if self.connection.info.transaction_status != TransactionStatus.IDLE:
                raise  # inside a transaction, which the error aborted: the caller's atomic block fails
            return super().execute(query, params, **{**kwargs, "prepare": False})


def hot_cursor(*, binary=False):
    """A cursor for a hot path's plain SQL (the send, the delivery claim and record).

    On PostgreSQL it binds parameters on the server, so psycopg prepares a statement once it has
    run `prepare_threshold` (5) times on a connection and PostgreSQL stops parsing and planning
    it on every call: for the send's one statement, planning cost more than running it. Elsewhere,
    or with DB_PREPARED_STATEMENTS off, it is Django's own cursor. Behind a pooler (PgBouncer) the
    connection prepares nothing (kilopush/postgresql/base.py), and a prepared statement the server
    lost is run again unprepared (_HotCursor). Either way it is
    Django's cursor wrapper: the same errors, transactions, health check and query logging.

    `binary`: results come in PostgreSQL's binary format, loaded in C (timestamps parse in Python from
    text: most of the CPU of loading a batch of rows with several timestamps each).
    """
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _HotCursor(connection.connection)
        if binary:
            cursor.format = psycopg.pq.Format.BINARY
        return connection._prepare_cursor(cursor)
