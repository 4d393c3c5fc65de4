"""Where the machine's CPU goes per request, the bare view's and the send's:
`python -m bench.experiments.machine_split [plain|procfile] [SECONDS] [ROUNDS] [--waits]`.

Starts the web (the plain `gunicorn --workers 2 --threads 4 --worker-class gthread`, default, or the Procfile's)
on the database, Redis and fixtures the accept phase leaves behind (run `make bench BENCH_ARGS="--only accept"`
once first), and measures the bare view, then the send, with wrk (2 threads, 16 connections, SECONDS each,
default 6), ROUNDS times (default 3). Around each wrk run it reads what every process on the machine has used
(/proc) and prints it per request, in ms of CPU: the web's processes in user space and in the kernel, PostgreSQL,
Redis, wrk, the rest (kernel threads, this process; a process that ended meanwhile counts in its parent's role,
bench.run.cpu_spent) and the machine's idle time
(all its processes asleep; "waiting for I/O" when one waits on the disk, as a commit's WAL flush does), with the
web's context switches per request, and PostgreSQL's WAL syncs per request with the ms its backends waited in them
(pg_stat_wal; the web's backends run with track_wal_io_timing on, added to the caller's PGOPTIONS: for example
PGOPTIONS="-c synchronous_commit=off" to see what the commit's wait costs); then the median of the rounds, and
the send's less the bare view's.

send / bare is set by these sums: on 2 busy cores a request's rate is the inverse of the machine's CPU per request.

`--waits`: then one more wrk run of the send, during which it samples where the web's threads are (py-spy, all
threads, idle ones included: needs py-spy and ptrace rights) and what PostgreSQL's backends wait for
(pg_stat_activity every 5 ms), and prints each state's average number of threads per web worker and of backends.
"""

import collections
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

from bench import pyspy
from bench import run as bench

CONNECTIONS = 16
# Where a web thread is, by its innermost frame (py-spy --idle); else it runs Python or waits for the GIL.
THREAD_STATES = (
    ("waits for a request (the pool's idle threads)", re.compile(r"^_worker \(concurrent/futures/thread\.py")),
    ("waits for the next event (gunicorn's poll)", re.compile(r"^.*\.?select \((selectors|gunicorn/.*)\.py")),
    *pyspy.WAITS,
    ("waits on a condition (the nudges' lingering thread)", re.compile(r"^(Condition\.)?wait \(threading\.py")),
)
RUNNING = "runs Python, or waits for the GIL or in a system call"
SPY_RATE = 100
ROWS = ("web, user space", "web, kernel", "PostgreSQL", "Redis", "wrk", "the rest", "idle", "idle, waiting for I/O",
        "web context switches", "WAL syncs", "waited in WAL syncs")
NOT_BUSY = ("idle", "idle, waiting for I/O", "web context switches", "WAL syncs", "waited in WAL syncs")
# The web's backends time their WAL syncs (track_wal_io_timing, a superuser's setting: the bench's role is one).
WEB_PGOPTIONS = "-c track_wal_io_timing=on"


def context_switches(pids):
    """Context switches so far of every thread of `pids` (voluntary and not), from /proc."""
    total = 0
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                status = (task / "status").read_text()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in status.splitlines()
                         if line.split(":")[0].endswith("ctxt_switches"))
    return total


def wal_syncs():
    """(WAL syncs, ms spent in them) of the whole PostgreSQL server so far (pg_stat_wal: run on a quiet server;
    a backend adds its figures there at most once a second, so a run of a few seconds may miss up to one's worth)."""
    with psycopg.connect(bench.bench_urls()[0], autocommit=True) as conn:
        return conn.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()


def reading(web_pids):
    roles = {"web": web_pids}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"user": bench.cpu_by_process(roles, bench.CPU_USER),
            "kernel": bench.cpu_by_process(roles, bench.CPU_KERNEL),
            "busy": bench.machine_busy_seconds(), "idle": bench.machine_idle_seconds(),
            "children": children.ru_utime + children.ru_stime, "switches": context_switches(web_pids),
            "wal": wal_syncs()}


def per_request(before, after, requests):
    """{row: ms (context switches: a count) per request} between two readings."""
    def spent(role, part="all"):
        parts = ("user", "kernel") if part == "all" else (part,)
        return sum(bench.cpu_spent(before[p], after[p], role) for p in parts)

    seconds = {
        "web, user space": spent("web", "user"),
        "web, kernel": spent("web", "kernel"),
        "PostgreSQL": spent("postgres"),
        "Redis": spent("redis-server"),
        "wrk": after["children"] - before["children"],  # the only child that ended meanwhile
        "idle": after["idle"][0] - before["idle"][0],
        "idle, waiting for I/O": after["idle"][1] - before["idle"][1],
    }
    named = sum(value for row, value in seconds.items() if row not in NOT_BUSY)
    seconds["the rest"] = max(after["busy"] - before["busy"] - named, 0.0)
    split = {row: value * 1000 / requests for row, value in seconds.items()}
    split["web context switches"] = (after["switches"] - before["switches"]) / requests
    split["WAL syncs"] = (after["wal"][0] - before["wal"][0]) / requests
    split["waited in WAL syncs"] = (after["wal"][1] - before["wal"][1]) / requests
    return split


def thread_states(workers, seconds, out_dir):
    """{state: threads in it on average per worker} over `seconds` of py-spy samples of every thread of `workers`."""
    spy = pyspy.executable()
    procs = []
    for pid in workers:
        path = out_dir / f"py-spy-threads-{pid}.txt"
        command = [spy, "record", "--idle", "--nonblocking", "--threads", "--pid", str(pid), "--duration",
                   str(seconds), "--rate", str(SPY_RATE), "--format", "raw", "--output", str(path)]
        procs.append((path, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    states = collections.Counter()
    for path, proc in procs:
        proc.wait()
        if not path.exists():
            raise SystemExit(f"py-spy recorded nothing (pip install py-spy; ptrace rights): {' '.join(command)}")
        found, threads = collections.Counter(), set()
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                threads.add(stack.split(";", 1)[0])  # --threads: the outermost frame names the thread
                innermost = stack.rpartition(";")[2]
                state = next((name for name, pattern in THREAD_STATES if pattern.match(innermost)), RUNNING)
                found[state] += int(count)
        # The instants at which every thread was sampled (--nonblocking misses some).
        instants = sum(found.values()) / max(len(threads), 1)
        states.update({state: count / instants / len(workers) for state, count in found.items()})
    return dict(states.most_common())


def backend_states(seconds):
    """{"state, wait event": backends in it on average} of the bench database's clients, sampled every 5 ms."""
    states, samples = collections.Counter(), 0
    with psycopg.connect(bench.bench_urls()[0], autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rows = conn.execute("SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                                "WHERE datname = current_database() AND backend_type = 'client backend' "
                                "AND pid <> pg_backend_pid()").fetchall()
            states.update(f"{state}, " + (f"waits for {kind}: {event}" if kind else "on the CPU")
                          for state, kind, event in rows)
            samples += 1
            time.sleep(0.005)
    return {state: count / max(samples, 1) for state, count in states.most_common()}


def waits(server, port, send_body, seconds, work_dir):
    """One more wrk run of the send, with the web's threads and PostgreSQL's backends sampled meanwhile."""
    found = {}
    workers = pyspy.workers(server.pids())
    samplers = [threading.Thread(target=lambda: found.update(threads=thread_states(workers, seconds - 1, work_dir))),
                threading.Thread(target=lambda: found.update(backends=backend_states(seconds - 1)))]
    load = threading.Thread(target=lambda: found.update(
        wrk=bench.wrk(f"http://127.0.0.1:{port}/v1/messages/send", send_body, seconds + 1, CONNECTIONS, work_dir)))
    load.start()
    time.sleep(1)  # wrk's connections open
    for sampler in samplers:
        sampler.start()
    for thread in (*samplers, load):
        thread.join()
    print(f"the send at {found['wrk']['rps']:.0f}/s, sampled for {seconds - 1} s:")
    print(f"  web threads per worker ({len(workers)} workers):")
    for state, threads in found["threads"].items():
        print(f"    {threads:5.2f}  {state}")
    print("  PostgreSQL's client backends:")
    for state, backends in found["backends"].items():
        print(f"    {backends:5.2f}  {state}")


def main(argv):
    sample_waits = "--waits" in argv
    argv = [arg for arg in argv if arg != "--waits"]
    web = argv[0] if argv else "plain"
    seconds = int(argv[1]) if len(argv) > 1 else 6
    rounds = int(argv[2]) if len(argv) > 2 else 3
    if web not in bench.WEB_CONFIGS:
        raise SystemExit(f"the web is one of {', '.join(bench.WEB_CONFIGS)}, not {web}")
    work_dir = bench.ROOT / "var" / "bench"
    _, send_body = bench.accept_leftovers()
    env = {**bench.bench_env(*bench.bench_urls()), "WEB_NICE": "0",
           "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} {WEB_PGOPTIONS}".strip()}
    server, port = bench.start_web("machine-split", web, env)
    measured = {"bare": [], "send": []}
    try:
        requests = (("bare", "/bench/bare", {}), ("send", "/v1/messages/send", send_body))
        for _, path, body in requests:  # warm-up
            bench.wrk(f"http://127.0.0.1:{port}{path}", body, 2, CONNECTIONS, work_dir)
        for index in range(rounds):
            rates = {}
            for name, path, body in requests:
                pids = server.pids()
                result = bench.balanced_wrk(pids, f"http://127.0.0.1:{port}{path}", body, seconds, CONNECTIONS,
                                            work_dir, cpu=lambda: reading(pids))
                if result["non_2xx"]:
                    raise SystemExit(f"{name}: {result['non_2xx']} answers were not 2xx (see {work_dir}/logs)")
                measured[name].append(per_request(*result["cpu"], result["requests"]))
                rates[name] = result["rps"]
            print(f"round {index + 1}: bare {rates['bare']:.0f}/s, send {rates['send']:.0f}/s, "
                  f"send / bare {rates['send'] / rates['bare']:.3f}", flush=True)
            print_table({name: rows[-1] for name, rows in measured.items()})
        if sample_waits:
            waits(server, port, send_body, seconds, work_dir)
    finally:
        server.stop()
    print(f"median of {rounds} rounds ({web}):")
    print_table({name: {row: statistics.median(r[row] for r in rows) for row in ROWS}
                 for name, rows in measured.items()})


def print_table(columns):
    print(f"  {'per request (ms of CPU)':<32}{'bare':>8}{'send':>8}{'send - bare':>13}")
    for row in ROWS:
        bare, send = columns["bare"][row], columns["send"][row]
        print(f"  {row:<32}{bare:>8.3f}{send:>8.3f}{send - bare:>+13.3f}")
    total = {name: sum(v for row, v in column.items() if row not in NOT_BUSY)
             for name, column in columns.items()}
    print(f"  {'busy, in all':<32}{total['bare']:>8.3f}{total['send']:>8.3f}{total['send'] - total['bare']:>+13.3f}",
          flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
