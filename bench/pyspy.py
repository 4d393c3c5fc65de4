"""Where the web tier's CPU goes (issue 27): py-spy samples of every gunicorn worker while wrk sends one request
over and over, each sample charged to one part of the request's life.

A sample's part is the first frame, from the innermost out, whose file matches a rule below: a sample inside
psycopg is the statement, inside redis-py the nudge, and so on; what matches nothing of ours is gunicorn's own
work (reading the request, writing the answer) when it is outside Django's handler, else Django's request cycle.
Only the thread holding the GIL is sampled (py-spy --gil): the shares are shares of the workers' Python CPU time;
CPU spent in C with the GIL released (libpq, socket calls) is not seen.

Run by bench.run (accept phase, --py-spy); needs py-spy (pip install py-spy) and ptrace rights.
"""

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

# (part, pattern of a frame's file), tried on each frame from the innermost out.
RULES = [
    ("the statement (psycopg: bind, send, wait, read)", re.compile(r"(^|/)psycopg(_binary|_c)?/")),
    ("Redis nudge after the commit (redis-py)", re.compile(r"(^|/)redis/|messaging/queueing\.py|stream_app/wake\.py")),
    ("metrics (prometheus_client)", re.compile(r"(^|/)prometheus_client/|kilopush/metrics\.py")),
    ("Django DB layer (cursor, health check, on_commit)", re.compile(r"(^|/)django/db/")),
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


def record(pids, seconds, out_dir, tag, rate=250):
    """Samples each pid for `seconds` (in parallel); returns {part: samples} summed over them."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
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
    """[(part, share of samples, ms per request)] largest first; ms when the CPU per request is known."""
    samples = sum(parts.values()) or 1
    return [(part, round(count / samples, 3),
             round(count / samples * cpu_ms_per_request, 3) if cpu_ms_per_request else None)
            for part, count in parts.most_common()]
