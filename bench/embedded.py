"""The embedded default measured the way a new user meets it: `make run` with nothing configured.

A temporary KILOPUSH_VAR_DIR (SQLite, the filesystem broker spool) and a free PORT; no
DATABASE_URL, REDIS_URL or provider credentials, so pushes go to the log provider. The bench
reads `make run`'s own output (honcho's) and times each send from the API's answer to the
log provider's line for that message, then sums the CPU that every process under `make run`
used while idle.
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.load import percentile

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

FIXTURES = """
import json
import django
django.setup()
from users_app.services import app_user_create
from channels_app.services import channel_create, channel_set_verified
recipient, _ = app_user_create(platform="android", push_token="fcm-embedded-bench")
owner, _ = app_user_create(push_token="")
channel = channel_create(owner=owner, name="Embedded bench")
channel_set_verified(channel=channel, verified=True)
print(json.dumps({"to": recipient.token, "token": channel.token, "secret": channel.secret}))
"""

PUSH_LINE = re.compile(r"push log-\S+ .*Embedded bench #(\d+)")


def _tree(root_pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _cpu_seconds(pids):
    from bench.run import parent_and_cpu_seconds

    return {pid: seconds for pid, (_, seconds) in parent_and_cpu_seconds(pids).items()}


def _names(pids):
    names = {}
    for pid in pids:
        try:
            names[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60].strip()
        except OSError:
            pass
    return names


class MakeRun:
    """`make run` in the repository, on a temporary var dir and a free port; its output read line by line."""

    def __init__(self, env, port):
        self.lines = []  # (arrival time, line)
        self.pushes = {}  # bench message number: arrival time of its log line
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            now = time.time()
            line = raw.decode(errors="replace").rstrip()
            self.lines.append((now, line))
            match = PUSH_LINE.search(line)
            if match:
                self.pushes.setdefault(int(match.group(1)), now)

    def wait_for(self, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for _, line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"make run never printed {pattern!r}:\n" + "\n".join(line for _, line in self.lines[-40:]))

    def stop(self):
        """Like Ctrl-C in the terminal; then whatever of make run's tree is left (honcho may outlive make)."""
        tree = _tree(self.proc.pid)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in tree):
            time.sleep(0.2)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _send(base, body):
    data = json.dumps(body).encode()
    request = urllib.request.Request(base + "/v1/messages/send", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status


def measure(label, extra_env, *, messages=30, burst=50, idle_seconds=20, settle_seconds=5, log=print):
    """One `make run`: idle CPU of all its processes, then `messages` sends spaced 0.3-0.6 s apart, then a
    burst of `burst` sends from 8 threads at once."""
    var_dir = Path(tempfile.mkdtemp(prefix="kilopush-embedded-"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "ROOT_URLCONF", "DJANGO_SETTINGS_MODULE")
           and not k.startswith(("FCM_", "APNS_", "CELERY_", "EMBEDDED_BROKER_", "WEB_"))}
    env.update(KILOPUSH_VAR_DIR=str(var_dir), LOG_LEVEL="INFO", DJANGO_SETTINGS_MODULE="kilopush.settings", **extra_env)
    # A terminal is line-buffered; honcho writing to our pipe is not.
    env["PYTHONUNBUFFERED"] = "1"
    venv_python = str(ROOT / ".venv" / "bin" / "python")
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    subprocess.run([venv_python, "manage.py", "migrate", "--noinput", "-v0"], **run)
    fixture = json.loads(subprocess.run([venv_python, "-c", FIXTURES], **run).stdout.strip().splitlines()[-1])
    from tests.procs import free_port_pair  # make run's stream process listens on PORT + 1

    port = free_port_pair()
    make = MakeRun(env, port)
    try:
        make.wait_for(r"Listening at")
        make.wait_for(r"ready\.")
        time.sleep(settle_seconds)
        pids = _tree(make.proc.pid)
        before, started = _cpu_seconds(pids), time.monotonic()
        time.sleep(idle_seconds)
        after, elapsed = _cpu_seconds(pids), time.monotonic() - started
        by_pid = {pid: (after[pid] - before.get(pid, after[pid])) / elapsed for pid in after}
        names = _names(pids)
        idle_cores = sum(by_pid.values())
        top = sorted(((round(cores, 4), names.get(pid, str(pid))) for pid, cores in by_pid.items()), reverse=True)[:5]

        base = f"http://127.0.0.1:{port}"
        answered = {}
        for number in range(messages):
            try:
                status = _send(base, {**fixture, "message": f"Embedded bench #{number}"})
            except OSError as exc:
                tail = "\n".join(line for _, line in make.lines[-30:])
                raise SystemExit(f"send #{number} failed ({exc}); make run's last lines:\n{tail}") from None
            answered[number] = time.time()
            assert status == 200, status
            time.sleep(random.uniform(0.3, 0.6))  # idle: each send alone, at a random phase of any poll
        deadline = time.monotonic() + 30
        while len(make.pushes) < messages and time.monotonic() < deadline:
            time.sleep(0.1)
        values = [(make.pushes[n] - answered[n]) * 1000 for n in answered if n in make.pushes]

        from concurrent.futures import ThreadPoolExecutor

        burst_answered = {}

        def burst_send(number):
            assert _send(base, {**fixture, "message": f"Embedded bench #{number}"}) == 200
            burst_answered[number] = time.time()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(burst_send, range(messages, messages + burst)))
        deadline = time.monotonic() + 30
        while len(make.pushes) < messages + burst and time.monotonic() < deadline:
            time.sleep(0.1)
        burst_values = [(make.pushes[n] - burst_answered[n]) * 1000 for n in burst_answered if n in make.pushes]
        result = {
            "label": label,
            "env": extra_env,
            "processes": len(pids),
            "idle_cpu_cores_all_processes": round(idle_cores, 4),
            "idle_cpu_top": top,
            "messages": messages,
            "delivered": len(values),
            "p50_ms": round(percentile(values, 0.5), 1) if values else None,
            "p95_ms": round(percentile(values, 0.95), 1) if values else None,
            "max_ms": round(max(values), 1) if values else None,
            "values_ms": [round(v, 1) for v in values],
            "burst": burst,
            "burst_delivered": len(burst_values),
            "burst_p50_ms": round(percentile(burst_values, 0.5), 1) if burst_values else None,
            "burst_p95_ms": round(percentile(burst_values, 0.95), 1) if burst_values else None,
            "burst_max_ms": round(max(burst_values), 1) if burst_values else None,
        }
        log(f"  embedded [{label}]: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
            f"idle CPU {result['idle_cpu_cores_all_processes'] * 100:.2f}% of a core ({len(pids)} processes); "
            f"burst of {burst}: {result['burst_delivered']} pushed, p50 {result['burst_p50_ms']} ms, "
            f"p95 {result['burst_p95_ms']} ms")
        return result
    finally:
        make.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


VARIANTS = [
    ("poll 1 s (kombu default, before)", {"EMBEDDED_BROKER_WAKEUP": "false", "EMBEDDED_BROKER_POLL_INTERVAL": "1"}),
    ("poll 50 ms", {"EMBEDDED_BROKER_WAKEUP": "false", "EMBEDDED_BROKER_POLL_INTERVAL": "0.05"}),
    ("wake-up socket (default)", {}),
]


def run_all(quick=False, log=print):
    results = []
    for label, extra in VARIANTS:
        results.append(measure(label, extra, messages=15 if quick else 30, idle_seconds=10 if quick else 20, log=log))
    return results
