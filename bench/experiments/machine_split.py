"""Where the machine's CPU goes per request, the bare view's and the send's:
`python -m bench.experiments.machine_split [plain|procfile] [SECONDS] [ROUNDS]`.

Starts the web (the plain `gunicorn --workers 2 --threads 4 --worker-class gthread`, default, or the Procfile's)
on the database, Redis and fixtures the accept phase leaves behind (run `make bench BENCH_ARGS="--only accept"`
once first), and measures the bare view, then the send, with wrk (2 threads, 16 connections, SECONDS each,
default 6), ROUNDS times (default 3). Around each wrk run it reads what every process on the machine has used
(/proc) and prints it per request, in ms of CPU: the web's processes in user space and in the kernel, PostgreSQL,
Redis, wrk, the rest (kernel threads, this process, processes that ended meanwhile) and the machine's idle time
(all its processes asleep; "waiting for I/O" when one waits on the disk, as a commit's WAL flush does), with the web's context switches per request; then the median of the rounds, and the send's less the bare view's.

send / bare is set by these sums: on 2 busy cores a request's rate is the inverse of the machine's CPU per request.
"""

import json
import resource
import statistics
import sys
from pathlib import Path

from bench import run as bench

DB_URL = "postgres://postgres@127.0.0.1:5432/kilopush_bench"
REDIS_URL = "redis://127.0.0.1:6379/11"
CONNECTIONS = 16
ROWS = ("web, user space", "web, kernel", "PostgreSQL", "Redis", "wrk", "the rest", "idle", "idle, waiting for I/O",
        "web context switches")
NOT_BUSY = ("idle", "idle, waiting for I/O", "web context switches")


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


def reading(web_pids):
    roles = {"web": web_pids}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"user": bench.cpu_by_process(roles, bench.CPU_USER), "kernel": bench.cpu_by_process(roles, bench.CPU_KERNEL),
            "busy": bench.machine_busy_seconds(), "idle": bench.machine_idle_seconds(),
            "children": children.ru_utime + children.ru_stime, "switches": context_switches(web_pids)}


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
    return split


def main(argv):
    web = argv[0] if argv else "plain"
    seconds = int(argv[1]) if len(argv) > 1 else 6
    rounds = int(argv[2]) if len(argv) > 2 else 3
    if web not in bench.WEB_CONFIGS:
        raise SystemExit(f"the web is one of {', '.join(bench.WEB_CONFIGS)}, not {web}")
    work_dir = bench.ROOT / "var" / "bench"
    fixtures_file = work_dir / "fixtures.json"
    if not fixtures_file.exists():
        raise SystemExit(f"no {fixtures_file}: run make bench BENCH_ARGS=\"--only accept\" once first")
    fixtures = json.loads(fixtures_file.read_text())
    send_body = {"to": fixtures["recipients"][0], **fixtures["verified"], "message": "Bench: door bell"}
    env = {**bench.bench_env(DB_URL, REDIS_URL), "WEB_NICE": "0"}
    port = bench.free_port()
    command = bench.PLAIN_WEB.format(port=port) if web == "plain" else bench.procfile_command("web", port)
    server = bench.Proc("machine-split", command, env, work_dir / "logs", shell=True)
    measured = {"bare": [], "send": []}
    try:
        bench.wait_for_port(port)
        bench.wait_for_answer(f"http://127.0.0.1:{port}/healthz")
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
