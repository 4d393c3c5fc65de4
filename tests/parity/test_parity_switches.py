"""Every vendor switch in the code is one this suite covers: a new one fails here until its behaviour is in tests/parity."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("kilopush", "wiring", "users_app", "channels_app", "messaging", "stream_app", "reports_app", "stats_app",
        "webapp", "integrations")
# file: (switches, the tests here that hold its two sides together)
COVERED = {
    "messaging/send/service.py": (3, "test_parity_send.py (the one statement, the keyed and upload paths)"),
    "messaging/scheduling.py": (2, "test_parity_scheduled.py (the reserved id, the release's claim)"),
    "messaging/delivery.py": (3, "test_parity_delivery.py (claim, record)"),
    "kilopush/queries.py": (1, "test_parity_delivery.py (hot_cursor: a claim and record prepared on their 5th run)"),
    "stream_app/selectors.py": (1, "test_parity_reads_and_registration.py (the stream's read)"),
    "users_app/push_tokens.py": (1, "test_parity_reads_and_registration.py (one token, two accounts at once)"),
    "kilopush/checks.py": (1, "test_parity_checks.py (kilopush.W012 reads PostgreSQL's settings, none on SQLite)"),
}
SWITCH = re.compile(r"connection\.vendor|connections\[[^]]+\]\.vendor")


def test_every_vendor_switch_is_covered_by_the_parity_suite():
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            count = len(SWITCH.findall(path.read_text(encoding="utf-8")))
            if count:
                found[str(path.relative_to(ROOT))] = count
    expected = {name: count for name, (count, _) in COVERED.items()}
    assert found == expected, ("a vendor switch was added, moved or removed: put its behaviour into tests/parity/ "
                               "and list it in COVERED")
