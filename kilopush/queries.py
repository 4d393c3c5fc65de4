"""Query building blocks shared by the apps' selectors (no app's models here)."""

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


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


def hot_cursor(*, binary=False):
    """A cursor for a hot path's plain SQL (the send, the delivery claim and record).

    On PostgreSQL it binds parameters on the server, so psycopg prepares a statement once it has
    run `prepare_threshold` (5) times on a connection and PostgreSQL stops parsing and planning
    it on every call: for the send's one statement, planning cost more than running it. Elsewhere,
    or with DB_PREPARED_STATEMENTS off (a pooler that cannot keep prepared statements, such as
    PgBouncer before 1.21 in transaction mode), it is Django's own cursor. Either way it is
    Django's cursor wrapper: the same errors, transactions, health check and query logging.

    `binary`: results come in PostgreSQL's binary format, loaded in C (timestamps parse in Python from
    text: most of the CPU of loading a batch of rows with several timestamps each).
    """
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(connection.connection)
        if binary:
            cursor.format = psycopg.pq.Format.BINARY
        return connection._prepare_cursor(cursor)
