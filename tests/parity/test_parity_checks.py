"""The configuration checks' vendor switch (kilopush/checks.py, kilopush.W012): the commit's durability is read from
PostgreSQL's settings; the embedded SQLite (WAL journal, synchronous FULL: each commit synced) has none to read."""

import pytest
from django.db import connection

from kilopush.checks import commits_not_durable

pytestmark = pytest.mark.django_db


def test_a_database_that_commits_to_disk_gets_no_durability_warning():
    # On SQLite, reading PostgreSQL's settings would fail (no current_setting()): the switch skips it.
    assert commits_not_durable(connection) == []
