"""Where the web tier's CPU goes (issue 27): py-spy samples of every gunicorn worker while wrk sends one request
over and over, each sample charged to one part of the request's life.

A sample's part is the first frame, from the innermost out, whose file matches a rule below: a sample inside
psycopg is the statement, inside redis-py the nudge, and so on. A thread waiting in psycopg's or redis-py's
socket wait is sampled as active by py-spy: those samples are the waits (WAITS), reported apart from the CPU.
The other samples are the workers' CPU (idle threads are left out: py-spy's own test, and IDLE for the waits
for work it misses); a part's CPU per request is its share of them times the CPU per request read from /proc.

Run by bench.run (accept phase, --py-spy); needs py-spy (pip install py-spy) and ptrace rights.
"""

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Waits py-spy samples as active (a thread in the C library's wait): time, not CPU. (part, innermost frame)
WAITS = [
    ("waiting for PostgreSQL (the statement's round trip, its commit)",
     re.compile(r"^(Connection\.wait|wait_c|wait_epoll|wait_select|wait_poll) \(psycopg")),
    ("waiting for Redis (the nudge's round trip)",
     re.compile(r"^(SocketBuffer\.(_read_from_socket|readline|can_read)|.*\.recv) \(.*redis")),
]
# (part, pattern of a frame's file), tried on each frame from the innermost out.
RULES = [
    ("the statement in psycopg (bind, send, read the row)", re.compile(r"(^|/)psycopg(_binary|_c)?/")),
    ("Redis nudge after the commit (redis-py)", re.compile(r"(^|/)redis/|messaging/queueing\.py|stream_app/wake\.py")),
    ("metrics (prometheus_client)", re.compile(r"(^|/)prometheus_client/|kilopush/metrics\.py")),
    ("Django DB layer (cursor, the health check's poll, on_commit)", re.compile(r"(^|/)django/db/")),
    ("body decoding and validation", re.compile(r"send_request\.py|send_guards\.py|(^|/)json/|integrations/.*parse")),
    ("send view and service (params, checks, answer)",
     re.compile(r"messaging/|channels_app/|integrations/|kilopush/(crypto|queries|answers)\.py|(^|/)hmac\.py")),
    ("Django request cycle (handler, middleware, URL, request, response)",
     re.compile(r"(^|/)(django|asgiref)/|kilopush/(wsgi|middleware|cors|errors|net)\.py|(^|/)whitenoise/|bench/urls\.py")),
    ("gunicorn (accept, parse, write, keep-alive)", re.compile(r"(^|/)gunicorn/|kilopush/gunicorn_worker\.py")),
]
OTHER = "other (stdlib, threads)"
# Waiting, though py-spy samples it as active (a futex wait it does not know as idle): an idle thread of the pool,
# gunicorn's poll for the next event. Left out, as idle threads are.
IDLE = re.compile(r"^(_worker \(concurrent/futures/thread\.py|.*\.select \((selectors|gunicorn/.*)\.py|"
                  r"Condition\.wait|Event\.wait|.*\.sleep \()")
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(:\d+)?\)$")


def part_of(stack):
    """The part one sample (a py-spy raw stack, outermost frame first) is charged to."""
    frames = stack.split(";")
    for part, pattern in WAITS:
        if pattern.match(frames[-1]):
            return part
    for frame in reversed(frames):
        match = _FRAME.match(frame)
        where = match.group("file") if match else frame
        for part, pattern in RULES:
            if pattern.search(where):
                return part
    return OTHER


def split(raw_text):
    """{part: samples} of py-spy's raw (collapsed) output."""
    parts = collections.Counter()
    for line in raw_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and not IDLE.match(stack.rpartition(";")[2]):
            parts[part_of(stack)] += int(count)
    return parts


def workers(pids):
    """The leaves of a process tree's pids (the gunicorn workers; the master and the shell have children)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    parents = {int(ppid) for pid, ppid in (line.split() for line in out.splitlines()) if int(pid) in pids}
    return [pid for pid in pids if pid not in parents]


def executable():
    """py-spy: on the PATH, else beside this Python (the venv's)."""
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def record(pids, seconds, out_dir, tag, rate=250):
    """Samples each pid for `seconds` (in parallel); returns {part: samples} summed over them."""
    spy = executable()
    procs = []
    for pid in pids:
        path = out_dir / f"py-spy-{tag}-{pid}.txt"
        procs.append((path, subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds),
                                              "--rate", str(rate), "--format", "raw", "--output", str(path)],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    total = collections.Counter()
    for path, proc in procs:
        proc.wait()
        if path.exists():
            total.update(split(path.read_text()))
    return total


def shares(parts, cpu_ms_per_request=None):
    """[(part, share of the CPU samples, CPU ms per request)] largest first, then the waits as
    (part, their samples over the CPU samples, None): a wait is time a request spent, not CPU.
    The ms are the share of the web workers' CPU per request (read from /proc) when it is known."""
    waits = {part for part, _ in WAITS}
    cpu = sum(count for part, count in parts.items() if part not in waits) or 1
    rows = [(part, round(count / cpu, 3), round(count / cpu * cpu_ms_per_request, 3) if cpu_ms_per_request else None)
            for part, count in parts.most_common() if part not in waits]
    return rows + [(part, round(count / cpu, 3), None) for part, count in parts.most_common() if part in waits]
