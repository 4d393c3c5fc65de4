"""The send's one statement is prepared on its connection (kilopush.queries.hot_cursor, DB_PREPARED_STATEMENTS)."""

from django.db import connection

from tests.helpers import status_of


def prepared_sends():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%WITH context AS%"])
        return cursor.fetchone()[0]


def test_the_send_statement_is_prepared_once_it_has_run_a_few_times(send, valid_fields):
    for _ in range(6):  # psycopg prepares a statement on its prepare_threshold-th (5th) run on a connection
        assert status_of(send(valid_fields)) == 200
    assert prepared_sends() == 1
    for _ in range(3):
        assert status_of(send(valid_fields)) == 200
    assert prepared_sends() == 1  # reused, not prepared again


def test_prepared_statements_can_be_turned_off(send, valid_fields, settings):
    settings.DB_PREPARED_STATEMENTS = False  # a pooler that cannot keep them
    for _ in range(6):
        assert status_of(send(valid_fields)) == 200
    assert prepared_sends() == 0
