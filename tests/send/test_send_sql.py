"""The send's SQL, as assembled by messaging/send/sql.py, is exactly the committed snapshot (send_sql.snapshot).

A change to any statement of the send (or to a fragment it takes, such as the daily quota's) fails here and shows
as a diff of the snapshot in review. To accept a change on purpose, rewrite the snapshot and commit it:

    KILOPUSH_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/send/test_send_sql.py
"""

import difflib
import os
from pathlib import Path

from messaging.send import sql

SNAPSHOT = Path(__file__).with_name("send_sql.snapshot")
STATEMENTS = ("SEND", "SEND_BY_KEY", "STORE", "STORE_KEYED", "INSERT_MESSAGE", "INSERT_MESSAGE_KEYED", "INSERT_DELIVERIES",
              "SEND_CONTEXT", "SEND_CONTEXT_BY_KEY", "KEY_TOUCH", "BAN_UNTIL")


def assembled():
    return "".join(f"-- messaging.send.sql.{name}\n{getattr(sql, name).strip()}\n\n" for name in STATEMENTS)


def test_the_sends_sql_is_the_committed_snapshot():
    text = assembled()
    if os.environ.get("KILOPUSH_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(text)
    committed = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    diff = "".join(difflib.unified_diff(committed.splitlines(True), text.splitlines(True), str(SNAPSHOT), "assembled"))
    assert text == committed, (
        "The send's SQL (messaging/send/sql.py) differs from tests/send/send_sql.snapshot. If the change is meant, "
        "update the snapshot with `KILOPUSH_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/send/test_send_sql.py` and "
        "commit it with the change, so review sees the new statements.\n" + diff
    )
