"""Where PostgreSQL's CPU per send goes: `python -m bench.experiments.pg_cost [RATE] [SECONDS] [--perf]`.

Replays the send's statement (the same capture as pgbench_batched) with `pgbench -M prepared`, 16 clients at
RATE sends a second (default 1,400, about the send's rate through the web), beside a round trip that does
nothing (`SELECT 1`), the statement's first part alone (the send's context read), the statement refused by a
wrong secret (every part runs, nothing is written or committed), and the send with one part of its commit
switched off for the measurement only:
`synchronous_commit=off` (no wait for the WAL flush) and `session_replication_role=replica` (no foreign-key
checks). Prints the machine's CPU per statement less pgbench's own (PostgreSQL's), three rounds. The product
keeps both: they are measured to know what they cost, not to be turned off.

`--perf`: also records the whole machine with `perf record -g` during one replay of the send and prints what
share of PostgreSQL's backends' CPU the executor's start, its run, the commit, the deferred foreign-key
checks, the WAL flush and the plan cache take (needs Linux perf: `apt-get install linux-perf`).
"""

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench import run as bench
from bench.experiments.pgbench_batched import send_sql

CLIENTS = 16  # between the plain web's 8 threads and the Procfile's 24, as pgbench_batched's first shape
ROUNDS = 3
# The parts of a backend's work, as perf names their functions (PostgresMain is the whole).
PARTS = (
    ("PostgresMain", "the backend, in all"),
    ("standard_ExecutorStart", "the executor's start (each execution builds its plan's state)"),
    ("standard_ExecutorRun", "the executor's run (reads, inserts, index entries)"),
    ("CommitTransactionCommand", "the commit"),
    ("AfterTriggerFireDeferred", "  of it, the deferred foreign-key checks"),
    ("XLogFlush", "  of it, the WAL flush (fdatasync)"),
    ("GetCachedPlan", "the plan cache"),
)


def variants(statement):
    """(label, statements, PGOPTIONS) of each replay."""
    refused = re.sub(r"secret_digest = '[0-9a-f]+'", "secret_digest = 'wrong'", statement)
    context = statement.split("), ban AS", 1)[0].replace("WITH context AS (", "", 1)
    return (
        ("a round trip that does nothing (SELECT 1)", ["SELECT 1"], ""),
        ("the send's context read alone (its first CTE)", [context], ""),
        ("the send refused (a wrong secret: the whole plan runs, nothing is written)", [refused], ""),
        ("the send's statement", [statement], ""),
        ("the send, synchronous_commit=off", [statement], "-c synchronous_commit=off"),
        ("the send, foreign keys not checked", [statement], "-c session_replication_role=replica"),
    )


def perf_shares(report):
    """{function: its share of PostgresMain's samples} from `perf report --children --stdio -g none`."""
    shares = {}
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+\[\.\]\s+(\S+)", line)
        if match and match.group(2) in dict(PARTS):
            shares.setdefault(match.group(2), float(match.group(1)))
    whole = shares.get("PostgresMain")
    return {name: share / whole for name, share in shares.items()} if whole else {}


def perf_profile(env, statement, rate, seconds, work_dir):
    """Records the machine during one replay of the send and returns perf_shares of its report."""
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "perf.data"
        replay = threading.Thread(target=bench.pgbench, args=(env["DATABASE_URL"], [statement], seconds + 2,
                                                              CLIENTS, Path(work_dir), "prepared"),
                                  kwargs={"rate": rate})
        replay.start()
        try:
            subprocess.run(["perf", "record", "-a", "-g", "-o", str(data), "--", "sleep", str(seconds)],
                           check=True, capture_output=True)
        finally:
            replay.join()
        report = subprocess.run(["perf", "report", "-i", str(data), "--comm", "postgres", "--children",
                                 "--sort", "symbol", "--stdio", "-g", "none"],
                                check=True, capture_output=True, text=True).stdout
    return perf_shares(report)


def main():
    args = [arg for arg in sys.argv[1:] if arg != "--perf"]
    if "--perf" in sys.argv and shutil.which("perf") is None:
        sys.exit("--perf needs Linux perf: apt-get install linux-perf")
    rate = int(args[0]) if args else 1400
    seconds = int(args[1]) if len(args) > 1 else 6
    env, work_dir = bench._migrated_bench_env()[:2]
    statement = send_sql(env)
    for round_ in range(ROUNDS):
        for label, body, options in variants(statement):
            measured = bench.pgbench(env["DATABASE_URL"], body, seconds, CLIENTS, Path(work_dir), "prepared",
                                     rate=rate, options=options)
            print(f"round {round_ + 1}: {label}: {measured['tps']:.0f}/s, PostgreSQL "
                  f"{measured['cpu_ms_per_send_less_pgbench']:.3f} ms CPU each, latency "
                  f"{measured['latency_avg_ms']} ms", flush=True)
    if "--perf" in sys.argv:
        shares = perf_profile(env, statement, rate, seconds, work_dir)
        if not shares:
            sys.exit("perf recorded no PostgreSQL backend (perf_event_paranoid? no symbols?)")
        for name, label in PARTS:
            print(f"{label}: {shares.get(name, 0.0) * 100:.0f}% of the backends' CPU ({name})")


if __name__ == "__main__":
    main()
