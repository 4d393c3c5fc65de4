"""The parity suite: every test here runs on PostgreSQL (production) and on SQLite (`make run`'s embedded default).

The hot steps exist twice: the send, the delivery claim and the record are PostgreSQL SQL (one statement each)
and portable code for SQLite. These tests are the one definition of their behaviour, run on both.

A pytest session has one database, so each test is parametrised by backend and each half runs in a session of
its own database, explicitly:

- `test_x[postgresql]` runs in the session of `make test` (PostgreSQL and Redis, as every other test);
- `test_x[sqlite]` is, in that same session, the result of `test_x[sqlite]` in one child pytest, started at the
  first [sqlite] item with KILOPUSH_PARITY=sqlite, DATABASE_URL=sqlite:///<a temporary file>, its own
  KILOPUSH_VAR_DIR and no REDIS_URL (the embedded default, spool broker and process cache included). The child
  runs the [sqlite] items selected here and nothing else (tests/conftest.py refuses SQLite in any other run).

A failure on either backend fails its own item, with the child's traceback for SQLite; an item the child did not
run or skipped fails too. The terminal summary shows the child's command and result line.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from django.db import connection

BACKENDS = ("postgresql", "sqlite")
SQLITE_HALF = os.environ.get("KILOPUSH_PARITY") == "sqlite"
REPORT_ENV = "KILOPUSH_PARITY_REPORT"  # where the child writes {node id: outcome} for its parent
CHILD_TIMEOUT = 600


@pytest.fixture(params=BACKENDS, autouse=True)
def backend(request):
    """The backend of this half; the session's database must be it (no silent fallback either way)."""
    assert connection.vendor == request.param, f"the {request.param} half is running on {connection.vendor}"
    return request.param


def _backend_of(item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("backend") if callspec is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    if SQLITE_HALF:
        # The child: the [postgresql] items are its parent's.
        other = [item for item in items if _backend_of(item) == "postgresql"]
        if other:
            items[:] = [item for item in items if _backend_of(item) != "postgresql"]
            config.hook.pytest_deselected(items=other)
        return
    for index, item in enumerate(items):
        if _backend_of(item) == "sqlite":
            items[index] = SqliteHalfItem.from_parent(item.parent, name=item.name, lineno=item.reportinfo()[1])


class SqliteHalfFailed(Exception):
    pass


class SqliteHalfItem(pytest.Item):
    """A test's [sqlite] item in the PostgreSQL session: its outcome is that of the same item in the child pytest."""

    def __init__(self, *, lineno=None, **kwargs):
        super().__init__(**kwargs)
        self.lineno = lineno

    def runtest(self):
        half = _sqlite_half(self.session)
        outcome = half.outcomes.get(self.nodeid)
        if outcome is None:
            raise SqliteHalfFailed(f"{self.nodeid} did not run in the SQLite child pytest "
                                   f"(exit code {half.returncode}):\n{half.output[-4000:]}")
        if outcome["outcome"] != "passed":
            raise SqliteHalfFailed(f"{outcome['outcome']} on SQLite (child pytest: {half.command}):\n{outcome['text']}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, SqliteHalfFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.lineno, f"{self.name} (SQLite child pytest)"


class _SqliteHalf:
    def __init__(self, command, returncode, output, outcomes, seconds):
        self.command, self.returncode, self.output, self.outcomes, self.seconds = (
            command, returncode, output, outcomes, seconds)


def _sqlite_half(session):
    """Runs the session's selected [sqlite] items in one child pytest on SQLite, once; returns its outcomes."""
    half = getattr(session.config, "_kilopush_sqlite_half", None)
    if half is not None:
        return half
    node_ids = [item.nodeid for item in session.items if isinstance(item, SqliteHalfItem)]
    workdir = tempfile.mkdtemp(prefix="kilopush-parity-")
    try:
        report = os.path.join(workdir, "report.json")
        env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "PYTEST_ADDOPTS")}
        env.update({
            "KILOPUSH_PARITY": "sqlite",
            "DATABASE_URL": f"sqlite:///{os.path.join(workdir, 'kilopush.sqlite3')}",
            "KILOPUSH_VAR_DIR": os.path.join(workdir, "var"),
            REPORT_ENV: report,
        })
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "console_output_style=classic",
                   *node_ids]
        shown = ("KILOPUSH_PARITY=sqlite DATABASE_URL=sqlite:///<tmp> (no REDIS_URL) pytest -p no:cacheprovider -q "
                 f"<{len(node_ids)} [sqlite] items>")
        started = time.monotonic()
        try:
            run = subprocess.run(command, cwd=session.config.rootpath, env=env, capture_output=True, text=True,
                                 timeout=CHILD_TIMEOUT)
            returncode, output = run.returncode, run.stdout + run.stderr
        except subprocess.TimeoutExpired as exc:
            returncode, output = "timeout", f"the child pytest ran over {CHILD_TIMEOUT} s:\n{exc.stdout or ''}"
        outcomes = {}
        if os.path.exists(report):
            with open(report) as file:
                outcomes = json.load(file)
        half = _SqliteHalf(shown, returncode, output, outcomes, time.monotonic() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    session.config._kilopush_sqlite_half = half
    return half


def pytest_terminal_summary(terminalreporter, config):
    half = getattr(config, "_kilopush_sqlite_half", None)
    if half is None:
        return
    lines = [line for line in half.output.strip().splitlines() if line.strip()]
    terminalreporter.write_sep("-", "parity suite: the SQLite half")
    terminalreporter.write_line(half.command)
    terminalreporter.write_line(f"{lines[-1] if lines else 'no output'} (exit code {half.returncode}, "
                                f"{half.seconds:.1f} s with start-up)")


# --- the child: every item's outcome for the parent ---

_child_outcomes = {}


def pytest_runtest_logreport(report):
    if not SQLITE_HALF or not os.environ.get(REPORT_ENV):
        return
    entry = _child_outcomes.setdefault(report.nodeid, {"outcome": "passed", "text": ""})
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else f"error in {report.when}"
        entry["text"] += report.longreprtext + "\n"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"  # a skip is no pass: the parent fails the item
        entry["text"] += report.longreprtext + "\n"


def pytest_sessionfinish(session):
    path = os.environ.get(REPORT_ENV)
    if SQLITE_HALF and path:
        with open(path, "w") as file:
            json.dump(_child_outcomes, file)
