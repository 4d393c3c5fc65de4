"""The web worker's system calls per request, by worker class:
`python -m bench.experiments.worker_syscalls [--requests N] [CLASS ...]`.

Needs strace (Debian's package) and the bench's database (`make bench BENCH_ARGS="--only accept --web plain
--repeat 1 --no-profile"` once first, as bench.paired). For each CLASS (default: the Procfile's
kilopush.gunicorn_worker.BufferingThreadWorker, then gunicorn's own gthread) it starts the Procfile's web with
one process (`GUNICORN_CMD_ARGS=--worker-class=CLASS`), sends N (3,000) bare-view requests one after another on
one kept-alive connection while `strace -c -f` counts the worker's system calls, and prints each call's count
per request. Counts do not drift with the machine as CPU time does: fewer calls per request is fewer trips
through the kernel and through the worker's event loop (epoll_wait, with its heartbeat utimensat and getppid).
futex is mostly the threads handing the GIL over, which strace's slowing of every call multiplies: the sum
is printed without it too.
To compare with an earlier version of the worker, put its file on PYTHONPATH under another name, e.g.
`git show b628625:kilopush/gunicorn_worker.py > /tmp/old/oldworker.py`, then
`PYTHONPATH=/tmp/old python -m bench.experiments.worker_syscalls oldworker.BufferingThreadWorker`.
"""

import argparse
import http.client
import os
import subprocess
import tempfile
import time

from bench import run as bench

PROCFILE_WORKER = "kilopush.gunicorn_worker.BufferingThreadWorker"


def keep_alive_requests(port, count):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(count):
        connection.request("POST", "/bench/bare", body=b"{}", headers={"Content-Type": "application/json"})
        connection.getresponse().read()
    connection.close()


def syscalls_per_request(worker_class, count, env):
    """{system call: calls per request} of one worker process of `worker_class` serving `count` requests."""
    env = {**env, "GUNICORN_CMD_ARGS": f"--worker-class={worker_class}", "WEB_CONCURRENCY": "1", "WEB_NICE": "0"}
    web, port = bench.start_web(f"syscalls-{worker_class}", "procfile", env)
    try:
        worker = web.pids()[-1]  # the master's one worker process (a chain: its only leaf)
        keep_alive_requests(port, 300)  # warm-up
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
            strace = subprocess.Popen(["strace", "-c", "-f", "-o", out.name, "-p", str(worker)],
                                      stderr=subprocess.DEVNULL)
            time.sleep(1)  # attached to every thread
            keep_alive_requests(port, count)
            strace.terminate()
            strace.wait(timeout=10)
            return {fields[-1]: int(fields[3]) / count for fields in (line.split() for line in out)
                    if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total"}
    finally:
        web.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("classes", nargs="*", default=[PROCFILE_WORKER, "gthread"], metavar="CLASS")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    bench.accept_leftovers()
    env = {**bench.bench_env(*bench.bench_urls()), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    for worker_class in args.classes:
        counts = syscalls_per_request(worker_class, args.requests, env)
        calls = ", ".join(f"{name} {per:.1f}" for name, per in sorted(counts.items(), key=lambda item: -item[1]))
        without = sum(per for name, per in counts.items() if name != "futex")
        print(f"{worker_class}: {without:.1f} system calls per request besides futex ({calls})", flush=True)


if __name__ == "__main__":
    main()
