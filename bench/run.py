"""make bench: KILO.Push measured in production shape on one machine.

PostgreSQL and Redis (the real ones), gunicorn started as the Procfile starts it, a Celery
worker as the Procfile starts it, and the local FCM and APNs stand-ins from tests/fakes.
Prints one table and writes it as JSON under bench/results/.
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import redis

from bench import stream as stream_bench
from bench.load import percentile, run_at_rate

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)


# --ports LOW-HIGH (or BENCH_PORTS): every port the bench listens on comes from this range (default: any free one).
PORT_RANGE = None
_ports_given = set()


def free_port():
    if PORT_RANGE is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    low, high = PORT_RANGE
    for port in range(low, high + 1):
        if port in _ports_given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise SystemExit(f"no free port in {low}-{high}")


def wait_for_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


class Proc:
    def __init__(self, name, args, env, log_dir, shell=False):
        self.name = name
        self.log = open(log_dir / f"{name}.log", "wb")
        self.proc = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, shell=shell
        )

    def pids(self):
        """This process and all its descendants."""
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
        children = {}
        for line in out.splitlines():
            pid, ppid = map(int, line.split())
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def stop(self):
        """SIGTERM to the group, then wait until every process of the tree is gone (SIGKILL after 15 s).

        The shell of a `shell=True` command may end before the server it started has finished its
        requests in flight: waiting for the shell alone let a later phase's TRUNCATE meet their sends.
        """
        if self.proc.poll() is None:
            tree = self.pids()
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
                deadline = time.monotonic() + 15
                while any(_alive(pid) for pid in tree):
                    if time.monotonic() > deadline:
                        raise subprocess.TimeoutExpired(self.name, 15)
                    time.sleep(0.05)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.log.close()


def _alive(pid):
    """True while `pid` runs (a zombie, ended but not yet reaped by its parent, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


CPU_USER, CPU_KERNEL = (11,), (12,)  # cpu_by_process's `fields`: /proc/PID/stat's utime, stime
REAPED = 2  # /proc/PID/stat's cutime and cstime (the children it waited for) are two fields after utime and stime


class CpuReading(dict):
    """{role: {pid: CPU seconds used so far}}, with `parent` {pid: its parent's pid} and `reaped` {pid: CPU
    seconds of its children that ended and that it waited for}: cpu_spent counts a process that ended between
    two readings through its parent's `reaped`."""

    def __init__(self):
        super().__init__()
        self.parent, self.reaped = {}, {}


def cpu_by_process(roles, fields=CPU_USER + CPU_KERNEL):
    """CPU seconds used so far by every process on the machine, per role and process: a CpuReading.

    roles: {role: [pids]} for our own process trees; anything else is named by its command
    (postgres, redis-server, the load generator is this process). Compare two readings with cpu_spent.
    `fields`: CPU_USER or CPU_KERNEL for the time in user space or in the kernel only.
    """
    owner = {pid: role for role, pids in roles.items() for pid in pids}
    ticks = os.sysconf("SC_CLK_TCK")
    reading = CpuReading()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        stat_fields = stat[stat.rindex(")") + 2:].split()
        pid = int(entry)
        role = owner.get(pid) or ("load generator" if pid == os.getpid() else name)
        reading.setdefault(role, {})[pid] = sum(int(stat_fields[i]) for i in fields) / ticks
        reading.parent[pid] = int(stat_fields[1])
        reading.reaped[pid] = sum(int(stat_fields[i + REAPED]) for i in fields) / ticks
    return reading


def cpu_spent(before, after, role):
    """CPU seconds `role` used between two cpu_by_process() readings: what its processes running at the second
    used since the first (all of it for one started meanwhile), and what the children of its processes that
    ended meanwhile used after the first (PostgreSQL's backends whose connections closed, even those that
    started and ended between the readings, through the postmaster; the wrk runs of the load generator).

    A process that ended is counted through its parent, which was credited with all it ever used when it
    waited for it (`reaped`), less what it had used by the first reading. So a role's ended processes count
    only if their parent is in the role and ran at both readings, and everything that parent reaped counts."""
    earlier, now = before.get(role, {}), after.get(role, {})
    spent = sum(seconds - earlier.get(pid, 0.0) for pid, seconds in now.items())
    parents = {pid for pid in now if pid in earlier}
    spent += sum(after.reaped[pid] - before.reaped[pid] for pid in parents)
    # The ended ones' part before the first reading was counted there: only their part after it is ours.
    spent -= sum(seconds for pid, seconds in earlier.items() if pid not in now and before.parent[pid] in parents)
    return spent


def parent_and_cpu_seconds(pids):
    """{pid: (parent pid, CPU seconds used so far)} of those of `pids` still running, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[pid] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return found


def worker_cpu_seconds(pids):
    """CPU seconds used so far by each gunicorn worker among `pids` (a web's process tree): the largest
    group of siblings, i.e. the master's children."""
    by_parent = {}
    for pid, (parent, seconds) in parent_and_cpu_seconds(pids).items():
        by_parent.setdefault(parent, {})[pid] = seconds
    return max(by_parent.values(), key=len) if by_parent else {}


UNBALANCED_BELOW = 0.25  # a worker that used less than this share of the busiest one's CPU: wrk's connections sat elsewhere
UNBALANCED_RETRIES = 2


def unbalanced(before, after):
    """True when wrk's connections went (nearly) all to some workers and left another idle (worker_cpu_seconds
    readings). wrk opens its 16 connections at once and keeps them; gunicorn's workers accept from one socket,
    and now and then one worker takes them all: the run then measures one core's worth of workers."""
    used = [after[pid] - before[pid] for pid in after if pid in before]
    return len(used) > 1 and max(used) > 0 and min(used) < UNBALANCED_BELOW * max(used)


def balanced_wrk(pids, url, body, seconds, connections, work_dir, content_type="application/json", cpu=None):
    """wrk, measured again (up to UNBALANCED_RETRIES times) when its connections left a web worker idle; the
    result says how many runs were dropped (`unbalanced_runs`). `cpu`: a function whose reading is taken
    before and after the kept run (returned as result["cpu"] = (before, after))."""
    for attempt in range(UNBALANCED_RETRIES + 1):
        workers_before = worker_cpu_seconds(pids) if pids else {}
        cpu_before = cpu() if cpu else None
        result = wrk(url, body, seconds, connections, work_dir, content_type)
        cpu_after = cpu() if cpu else None
        if not pids or not unbalanced(workers_before, worker_cpu_seconds(pids)) or attempt == UNBALANCED_RETRIES:
            result["unbalanced_runs"] = attempt
            if cpu:
                result["cpu"] = (cpu_before, cpu_after)
            return result


def cpu_split(before, after, seconds):
    """Cores used per role between two cpu_by_process() readings (roles using < 2% left out)."""
    split = {role: cpu_spent(before, after, role) / seconds for role in after}
    return {role: round(cores, 2) for role, cores in sorted(split.items(), key=lambda kv: -kv[1]) if cores >= 0.02}


def nice_of(pid):
    """A process's nice value, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[16])


def peak_rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def wait_for_answer(url, timeout=120):
    """The master listens before its workers have booted (slow on a busy machine): wait for an answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                time.sleep(2)  # the other worker processes boot meanwhile
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url}")


def procfile_command(name, port):
    return PROCFILE[name].replace("${PORT:-8000}", str(port))


# --- set-up --------------------------------------------------------------------------------------


def reset_database(url):
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


FIXTURES = """
import json, sys, datetime
import django
django.setup()
from django.utils import timezone
from users_app.models import Device
from users_app.services import app_user_create
from channels_app.models import ChannelDailyCount
from channels_app.services import channel_create, channel_set_verified
devices = int(sys.argv[1])
recipients = []
for i in range(devices):
    if i % 2:
        user, _ = app_user_create(platform="ios", push_token="%064x" % (i + 1))
    else:
        user, _ = app_user_create(platform="android", push_token="fcm-bench-%d" % i)
    recipients.append(user.token)
sender, _ = app_user_create(push_token="")
verified = channel_create(owner=sender, name="Bench verified")
channel_set_verified(channel=verified, verified=True)
limited = channel_create(owner=sender, name="Bench at its limit")
ChannelDailyCount.objects.create(channel=limited, day=timezone.now().astimezone(datetime.timezone.utc).date(), count=10**6)
quiet, _ = app_user_create(push_token="")  # a recipient without devices: accept path without delivery
from users_app.models import AppUser
from channels_app.services import send_key_create
# A send key of the verified channel to the send API's recipient: hook, Gotify and ntfy sends (issue 27, target 4).
_, key = send_key_create(channel=verified, recipient=AppUser.objects.get(token=recipients[0]), label="bench")
print(json.dumps({
    "recipients": recipients,
    "key": key,
    "quiet": quiet.token,
    "verified": {"token": verified.token, "secret": verified.secret},
    "limited": {"token": limited.token, "secret": limited.secret},
}))
"""


def start_fakes(env, log_dir, out_dir):
    fcm_port, apns_port, control_port = free_port(), free_port(), free_port()
    fcm = Proc("fake-fcm", [PYTHON, "-m", "tests.fakes.fcm", "--port", str(fcm_port), "--credentials",
                            str(out_dir / "fcm.json")], env, log_dir)
    apns = Proc("fake-apns", [PYTHON, "-m", "tests.fakes.apns", "--port", str(apns_port), "--control-port",
                              str(control_port), "--out", str(out_dir)], env, log_dir)
    for port in (fcm_port, apns_port, control_port):
        wait_for_port(port)
    settings = {}
    for name in ("fake-fcm", "fake-apns"):
        for _ in range(50):
            text = (log_dir / f"{name}.log").read_text()
            if "ENDPOINT=" in text:
                break
            time.sleep(0.1)
        for line in text.splitlines():
            match = re.match(r"^([A-Z_]+)=(.*)$", line)
            if match:
                settings[match.group(1)] = match.group(2)
    controls = [f"http://127.0.0.1:{fcm_port}", f"http://127.0.0.1:{control_port}"]
    return [fcm, apns], settings, controls


def control(controls, path, body=None):
    answers = []
    for base in controls:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answers.append(json.loads(response.read()))
    return answers


def find_message_id(value):
    if isinstance(value, dict):
        if "message_id" in value:
            return value["message_id"]
        for inner in value.values():
            found = find_message_id(inner)
            if found is not None:
                return found
    return None


def received_pushes(controls):
    """{message id: first arrival time} of every push the stand-ins answered ok."""
    arrivals = {}
    for snapshot in control(controls, "/_fake/pushes"):
        for push in snapshot["pushes"]:
            if push.get("answer") != "ok":
                continue
            message_id = find_message_id(push.get("message") or push.get("payload"))
            if message_id is not None:
                arrivals[message_id] = min(push["time"], arrivals.get(message_id, push["time"]))
    return arrivals


# --- measurements --------------------------------------------------------------------------------

WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
local f = io.open(os.getenv("BENCH_BODY_FILE"), "r"); wrk.body = f:read("*a"); f:close()
"""


def wrk(url, body, seconds, connections, work_dir, content_type="application/json"):
    """wrk -t2 against url with one POST body (a dict is sent as JSON, a str as it is)."""
    body_file = work_dir / "body.json"
    body_file.write_text(json.dumps(body) if isinstance(body, dict) else body)
    script = work_dir / "post.lua"
    script.write_text(WRK_LUA)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        env={**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_CONTENT_TYPE": content_type},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label):
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    (work_dir / f"wrk-{url.rsplit('/', 1)[1].split('?')[0][:12]}.txt").write_text(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": round(rps, 1), "p50_ms": ms("50%"), "p99_ms": ms("99%"), "requests": total,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def queue_depth(db_url, redis_client, queue):
    with psycopg.connect(db_url) as conn:
        pending = conn.execute("SELECT count(*) FROM messaging_delivery WHERE state IN ('queued', 'sending')").fetchone()[0]
    return pending, redis_client.llen(queue)


def clear_messages(db_url, redis_client, queue):
    # In the send's lock order (the message table, then the delivery table): a send still running in a backend
    # makes it wait, not deadlock. CASCADE: and the reports that name them.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE messaging_message, messaging_delivery CASCADE")
    redis_client.delete(queue)


def latencies(results, arrivals):
    """Accept-to-provider: from the moment a request was due to the push's arrival at a stand-in."""
    values, missing = [], 0
    for sent_at, _, status, message_id in results:
        if status != 200:
            continue
        if message_id in arrivals:
            values.append((arrivals[message_id] - sent_at) * 1000)
        else:
            missing += 1
    return values, missing


def wait_for_arrivals(controls, count, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = received_pushes(controls)
        if len(arrivals) >= count:
            return arrivals
        time.sleep(interval)
    return received_pushes(controls)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test of the benchmark)")
    parser.add_argument("--load-runs", type=int, default=None,
                        help="runs of the 80%% load (default 5, --quick 1); the target: 4 of 5 flat with p99 < 1 s")
    parser.add_argument("--only", choices=PHASES, action="append",
                        help="run only this phase (repeatable); default: all of them")
    parser.add_argument("--web", choices=WEB_CONFIGS, action="append",
                        help="accept phase: the web server's configuration (repeatable; default both): procfile is the "
                             "Procfile's gunicorn, plain is gunicorn --workers 2 --threads 4 --worker-class gthread")
    parser.add_argument("--repeat", type=int, default=3,
                        help="accept phase: rounds of bare view, send and key sends in a row (default 3)")
    parser.add_argument("--seconds", type=int, default=None,
                        help="accept phase: seconds per wrk measurement (default 10, --quick 4)")
    parser.add_argument("--py-spy", action="store_true",
                        help="accept phase: after the rounds, py-spy samples the web workers under wrk (bare view, "
                             "send, hook) and splits their CPU into parts (bench/pyspy.py; needs py-spy)")
    parser.add_argument("--no-profile", action="store_true",
                        help="accept phase: skip the in-process profile and the pgbench ceiling")
    parser.add_argument("--emergencies", type=int, default=None,
                        help="emergency phase: emergencies sent at once (default 100)")
    parser.add_argument("--webhook-events", type=int, default=None,
                        help="webhooks phase: events posted to the local receiver (default 5000, --quick 1000)")
    parser.add_argument("--ports", default=os.getenv("BENCH_PORTS"),
                        help="LOW-HIGH: listen only on ports in this range (default: any free port; env BENCH_PORTS)")
    parser.add_argument("--streams", type=int, action="append",
                        help="idle_streams: a count of idle streams to measure at (repeatable; default 1000 and 10000)")
    args = parser.parse_args(argv)
    args.web = args.web or WEB_CONFIGS
    if args.ports:
        global PORT_RANGE
        low, _, high = args.ports.partition("-")
        PORT_RANGE = (int(low), int(high))
    if args.load_runs is None:
        args.load_runs = 1 if args.quick else 5
    phases = args.only or [p for p in PHASES if p != "idle_streams"]  # 10,000 streams: only when asked
    report = {
        "taken_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "quick": args.quick,
        "phases": phases,
    }
    if "embedded" in phases:
        from bench import embedded

        print("Embedded default (make run, nothing configured):")
        report["embedded"] = embedded.run_all(quick=args.quick)
    if set(phases) & {"accept", "delivery", "latency"}:
        report.update(platform_phases(args, phases))
    if "stream" in phases:
        report["stream"] = stream_phase(args)
    if "idle_streams" in phases:
        report["idle_streams"] = idle_streams_phase(args)
    if "emergency" in phases:
        report["emergency"] = emergency_phase(args)
    if "webhooks" in phases:
        from bench import webhooks

        db_url, redis_url = bench_urls()
        reset_database(db_url)
        report["webhooks"] = webhooks.run(env=bench_env(db_url, redis_url), python=PYTHON, root=ROOT,
                                          free_port=free_port, quick=args.quick, count=args.webhook_events)
    if "scheduled" in phases:
        report["scheduled"] = emergency_phase(args, module="scheduled")
    report["machine"]["load_average_at_end"] = os.getloadavg()
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nwritten to {path.relative_to(ROOT)}")


PHASES = ["embedded", "accept", "delivery", "latency", "stream", "emergency", "scheduled", "webhooks", "idle_streams"]
WEB_CONFIGS = ["procfile", "plain"]


def emergency_phase(args, module="emergency"):
    """100 emergencies at once within one retry of their schedule (bench/emergency.py, issue 24); with
    module="scheduled", 100 messages scheduled for one second delivered within 3 s of it (bench/scheduled.py)."""
    import importlib

    phase = importlib.import_module(f"bench.{module}")
    db_url, redis_url = bench_urls()
    redis.Redis.from_url(redis_url).flushdb()
    work_dir = ROOT / "var" / "bench"
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return phase.run(env=bench_env(db_url, redis_url), log_dir=log_dir, work_dir=work_dir, python=PYTHON, root=ROOT,
                     Proc=Proc, free_port=free_port, wait_for_port=wait_for_port, procfile_command=procfile_command,
                     start_fakes=start_fakes, control=control, reset_database=reset_database,
                     wait_for_answer=wait_for_answer, db_url=db_url,
                     **({"count": args.emergencies or phase.COUNT} if module == "emergency" else {}))


def bench_env(db_url, redis_url):
    """The environment of the processes the bench starts (production settings, bench URLs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FCM_", "APNS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="kilopush.settings",
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        ROOT_URLCONF="bench.urls",
        SECRET_KEY="bench-" + "k" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SEND_AUTH_FAILURE_RATE="100000000/s",  # measure the 4003 path itself, not the ban after it
        PATH=f"{BIN}:{env.get('PATH', '')}",
        LOG_LEVEL="WARNING",
    )
    return env


def bench_urls():
    """(database URL, Redis URL) of the bench: BENCH_DATABASE_URL and BENCH_REDIS_URL, else kilopush_bench and db 11."""
    return (os.getenv("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kilopush_bench"),
            os.getenv("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))


def send_body_of(fixtures):
    """The accept phase's send: to the first recipient through the verified channel."""
    return {"to": fixtures["recipients"][0], **fixtures["verified"], "message": KEY_SEND_TEXT}


def accept_leftovers():
    """(fixtures, send body) the accept phase leaves in var/bench/ for the tools that reuse its database and Redis
    (bench.paired, bench.experiments); exits saying how to make them when there are none."""
    fixtures_file = ROOT / "var" / "bench" / "fixtures.json"
    if not fixtures_file.exists():
        sys.exit(f"no {fixtures_file}: run make bench BENCH_ARGS=\"--only accept --web plain --repeat 1 --no-profile\" "
                 "once first")
    fixtures = json.loads(fixtures_file.read_text())
    return fixtures, send_body_of(fixtures)


def start_web(name, web, env):
    """The web, "plain" (PLAIN_WEB) or "procfile", on a free port with `env`, once it answers; (Proc, port)."""
    port = free_port()
    command = PLAIN_WEB.format(port=port) if web == "plain" else procfile_command("web", port)
    server = Proc(name, command, env, ROOT / "var" / "bench" / "logs", shell=True)
    try:
        wait_for_port(port)
        wait_for_answer(f"http://127.0.0.1:{port}/healthz")
    except BaseException:
        server.stop()
        raise
    return server, port


def _migrated_bench_env():
    """The bench database's environment, migrated, and var/bench/ with its logs/ folder."""
    env = bench_env(*bench_urls())
    work_dir = ROOT / "var" / "bench"
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    return env, work_dir, log_dir


def stream_phase(args):
    """The live stream's figures (bench/stream.py), with the Procfile's web and stream processes."""
    env, work_dir, log_dir = _migrated_bench_env()
    return stream_bench.run(env=env, log_dir=log_dir, work_dir=work_dir, procfile=PROCFILE, Proc=Proc,
                            free_port=free_port, wait_for_port=wait_for_port, python=PYTHON, root=ROOT,
                            quick=args.quick)


def idle_streams_phase(args):
    """Many idle streams in one stream process (bench/stream_idle.py, issue 27)."""
    from bench import stream_idle

    env, work_dir, log_dir = _migrated_bench_env()
    counts = args.streams or ([200, 1000] if args.quick else [1000, 10000])
    return stream_idle.run(env=env, log_dir=log_dir, work_dir=work_dir, procfile=PROCFILE, Proc=Proc,
                           free_port=free_port, wait_for_port=wait_for_port, python=PYTHON, root=ROOT, counts=counts)


def platform_phases(args, phases):
    """PostgreSQL, Redis, gunicorn, the worker and the stand-ins: the production shape."""
    seconds = args.seconds or (4 if args.quick else 10)
    load_seconds = 8 if args.quick else 20
    messages, devices = (400, 200) if args.quick else (2000, 200)

    db_url, redis_url = bench_urls()
    work_dir = ROOT / "var" / "bench"
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    queue = "kilopush"
    redis_client = redis.Redis.from_url(redis_url)
    redis_client.flushdb()
    reset_database(db_url)

    env = bench_env(db_url, redis_url)
    procs = []
    try:
        fakes, fake_settings, controls = start_fakes(env, log_dir, work_dir)
        procs += fakes
        env.update(fake_settings)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
        fixtures = json.loads(subprocess.run([PYTHON, "-c", FIXTURES, str(devices)], env=env, cwd=ROOT, check=True,
                                             capture_output=True, text=True).stdout.strip().splitlines()[-1])
        (work_dir / "fixtures.json").write_text(json.dumps(fixtures))
        port = free_port()
        web = Proc("web", procfile_command("web", port), env, log_dir, shell=True)
        procs.append(web)
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        wait_for_answer(base + "/healthz")
        verified = fixtures["verified"]
        send_body = send_body_of(fixtures)

        out = {}
        if "accept" in phases and "plain" in args.web:
            # The issue's plain settings first (the Procfile's web waits idle meanwhile).
            plain_port = free_port()
            plain = Proc("web-plain", PLAIN_WEB.format(port=plain_port), env, log_dir, shell=True)
            procs.append(plain)
            try:
                wait_for_port(plain_port)
                wait_for_answer(f"http://127.0.0.1:{plain_port}/healthz")
                out["accept_plain"] = accept_phase(f"http://127.0.0.1:{plain_port}", send_body, fixtures, seconds,
                                                   work_dir, web=plain, repeat=args.repeat, py_spy=args.py_spy,
                                                   db_url=db_url)
            finally:
                plain.stop()
                procs.remove(plain)
            clear_messages(db_url, redis_client, queue)
        if "accept" in phases and "procfile" in args.web:
            out["accept"] = accept_phase(base, send_body, fixtures, seconds, work_dir, web=web, repeat=args.repeat,
                                         py_spy=args.py_spy, db_url=db_url)
            clear_messages(db_url, redis_client, queue)
        if "accept" in phases and not args.no_profile:
            out["profile"] = run_profile(env, fixtures, args.quick)
            send_sql = out["profile"].pop("send_sql")
            accept = out.get("accept") or out["accept_plain"]
            try:
                accept["pgbench_same_sql"] = pgbench(db_url, send_sql, seconds, 16, work_dir)
                accept["pgbench_same_sql_prepared"] = pgbench(db_url, send_sql, seconds, 16, work_dir, "prepared")
                # The same statement at the send's own rate: PostgreSQL's CPU per send there, not at its ceiling,
                # by the number of connections the sends come through (the web's threads hold one each).
                paced = {clients: pgbench(db_url, send_sql, seconds, clients, work_dir, "prepared",
                                          rate=accept["send_200"]["rps"]) for clients in PGBENCH_CLIENTS_AT_RATE}
                accept["pgbench_same_sql_prepared_at_send_rate"] = paced[16]  # wrk's 16 connections
                accept["pgbench_at_send_rate_by_clients"] = {
                    clients: run["cpu_ms_per_send_less_pgbench"] for clients, run in paced.items()}
                accept["send_to_pgbench_ratio"] = round(
                    accept["send_200"]["rps"] / accept["pgbench_same_sql"]["tps"], 3)
            except subprocess.CalledProcessError as exc:  # the ceiling is context; the run's figures are kept
                accept["pgbench_error"] = (exc.stderr or exc.stdout or str(exc))[-500:]
                print(f"pgbench failed: {accept['pgbench_error']}")
            clear_messages(db_url, redis_client, queue)
        if "delivery" not in phases and "latency" not in phases:
            out["memory"] = {"web_worker_peak_rss_mb": round(max(filter(None, (peak_rss_mb(p) for p in web.pids()[2:]))), 1)}
            return out

        # Delivery throughput: queue `messages` pushes with the worker stopped, then let it run.
        bodies = [json.dumps({**verified, "to": fixtures["recipients"][i % devices], "message": f"Bench #{i}"}).encode()
                  for i in range(messages)]
        # The fixtures' recipients alternate: an Android phone (FCM), then an iPhone (APNs).
        fcm_bodies = [json.dumps({**verified, "to": fixtures["recipients"][(2 * i) % devices],
                                  "message": f"Bench FCM #{i}"}).encode() for i in range(messages)]
        delivery = {}
        scenarios = (("0ms", 0.0, bodies), ("50ms", 0.05, bodies), ("fcm_0ms", 0.0, fcm_bodies))
        for label, latency, scenario_bodies in (scenarios if "delivery" in phases else ()):
            clear_messages(db_url, redis_client, queue)
            control(controls, "/_fake/reset", {})
            control(controls, "/_fake/default", {"outcome": "ok", "latency": latency})
            results = asyncio.run(run_at_rate("127.0.0.1", port, "/v1/messages/send", scenario_bodies, rate=400,
                                              duration=messages / 400, connections=16))
            accepted = sum(1 for r in results if r[2] == 200)
            worker = Proc(f"worker-{label}", procfile_command("worker", port), env, log_dir, shell=True)
            procs.append(worker)
            # The worker's CPU per push, from its first push on (its boot left out).
            first = wait_for_arrivals(controls, 1, timeout=120, interval=0.05)
            cpu_before, pushed_before = cpu_by_process({"worker": worker.pids()}), len(first)
            arrivals = wait_for_arrivals(controls, accepted, timeout=300)
            worker_cpu = cpu_spent(cpu_before, cpu_by_process({"worker": worker.pids()}), "worker")
            pushed_meanwhile = len(arrivals) - pushed_before
            times = sorted(arrivals.values())
            span = times[-1] - times[0] if len(times) > 1 else float("nan")
            # Steady rate: the middle 80% of the pushes, without the worker's start and the last stragglers.
            low, high = int(len(times) * 0.1), int(len(times) * 0.9)
            steady_span = times[high] - times[low] if high > low else float("nan")
            delivery[label] = {
                "messages": accepted,
                "pushes": len(times),
                "pushes_per_second": round((len(times) - 1) / span, 1) if span else None,
                "steady_pushes_per_second": round((high - low) / steady_span, 1) if steady_span else None,
                "worker_cpu_seconds": round(worker_cpu, 2),
                "pushes_per_worker_cpu_second": round(pushed_meanwhile / worker_cpu, 1) if worker_cpu else None,
                "per_100ms": [sum(1 for t in times if k <= (t - times[0]) * 10 < k + 1)
                              for k in range(int(span * 10) + 1)] if span == span else [],
            }
            worker.stop()
            procs.remove(worker)
        if delivery:
            delivery["ratio_50ms_to_0ms"] = round(
                delivery["50ms"]["pushes_per_second"] / delivery["0ms"]["pushes_per_second"], 3)
            delivery["steady_ratio_50ms_to_0ms"] = round(
                delivery["50ms"]["steady_pushes_per_second"] / delivery["0ms"]["steady_pushes_per_second"], 3)
            out["delivery"] = delivery
        if "latency" not in phases:
            out["memory"] = {"web_worker_peak_rss_mb": round(max(filter(None, (peak_rss_mb(p) for p in web.pids()[2:]))), 1)}
            return out

        # Accept-to-provider latency, idle and at 80% of the maximum accept rate, with the worker running.
        clear_messages(db_url, redis_client, queue)
        control(controls, "/_fake/reset", {})
        control(controls, "/_fake/default", {"outcome": "ok", "latency": 0.0})
        worker = Proc("worker", procfile_command("worker", port), env, log_dir, shell=True)
        procs.append(worker)
        time.sleep(3)  # worker boot
        idle_bodies = bodies[:60]
        results = asyncio.run(run_at_rate("127.0.0.1", port, "/v1/messages/send", idle_bodies, rate=10,
                                          duration=len(idle_bodies) / 10, connections=4))
        values, missing = latencies(results, wait_for_arrivals(controls, len(idle_bodies), timeout=60))
        idle = {"messages": len(values), "missing": missing, "p50_ms": round(percentile(values, 0.5), 1),
                "p99_ms": round(percentile(values, 0.99), 1)}

        # The platform's maximum accept rate is taken with the worker delivering (production
        # shape: both share the machine); the open-loop load then runs at 80% of it. Repeated:
        # the target is met when the queue stays flat and p99 < 1 s in 4 runs of 5.
        roles = {"web (gunicorn)": web.pids(), "celery worker": worker.pids(),
                 "FCM/APNs stand-ins": [p for fake in fakes for p in fake.pids()]}
        runs = [load_at_80_percent(base, port, send_body, fixtures, bodies, controls, roles, db_url, redis_client,
                                   queue, seconds, load_seconds, work_dir)
                for _ in range(args.load_runs)]
        loaded = {**runs[-1], "runs": runs, "runs_meeting_target": sum(1 for r in runs if r["meets_target"])}
        loaded["processes"] = {  # the Procfile's commands with the defaults (sh, then the master or main process)
            "gunicorn_workers": len(web.pids()) - 2,
            "gunicorn_threads": int(env.get("WEB_THREADS", "8")),
            "web_nice": nice_of(web.pids()[-1]) - os.nice(0),
            "celery_pool_processes": len(worker.pids()) - 2,
        }
        memory = {
            "web_worker_peak_rss_mb": round(max(filter(None, (peak_rss_mb(p) for p in web.pids()[2:]))), 1),
            "celery_worker_peak_rss_mb": round(max(filter(None, (peak_rss_mb(p) for p in worker.pids()[1:]))), 1),
        }
    finally:
        for proc in reversed(procs):
            proc.stop()

    out.update(latency_idle=idle, latency_at_80_percent=loaded, memory=memory)
    return out


def queue_slope(samples):
    """Least-squares growth of the queue (deliveries per second) over (time, depth) samples."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_d = sum(d for _, d in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (d - mean_d) for t, d in samples) / var if var else 0.0


def load_at_80_percent(base, port, send_body, fixtures, bodies, controls, roles, db_url, redis_client, queue,
                       seconds, load_seconds, work_dir):
    """One run: the maximum accept rate with the worker delivering (wrk), then 80% of it, open loop.

    The queue is flat when, over the second half of the load, it grew by less than half a second
    of the offered load (least squares) and never held more than one second of it.
    """
    recipients_body = {**send_body, "to": fixtures["recipients"][1]}
    max_with_delivery = wrk(base + "/v1/messages/send", recipients_body, seconds, 16, work_dir)
    drain_deadline = time.monotonic() + 120
    while queue_depth(db_url, redis_client, queue)[0] and time.monotonic() < drain_deadline:
        time.sleep(0.5)
    clear_messages(db_url, redis_client, queue)
    control(controls, "/_fake/reset", {})
    target = round(max_with_delivery["rps"] * 0.8)
    depth_samples = []

    async def load_and_sample():
        stop = asyncio.Event()

        async def sample():
            started = time.time()
            while not stop.is_set():
                pending, queued = await asyncio.to_thread(queue_depth, db_url, redis_client, queue)
                depth_samples.append((round(time.time() - started, 2), pending, queued))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        load_bodies = [bodies[i % len(bodies)] for i in range(target * load_seconds)]
        out = await run_at_rate("127.0.0.1", port, "/v1/messages/send", load_bodies, rate=target,
                                duration=load_seconds, connections=64)
        stop.set()
        await sampler
        return out

    cpu_before, cpu_started = cpu_by_process(roles), time.monotonic()
    results = asyncio.run(load_and_sample())
    cpu_at_load = cpu_split(cpu_before, cpu_by_process(roles), time.monotonic() - cpu_started)
    accepted_count = sum(1 for r in results if r[2] == 200)
    values, missing = latencies(results, wait_for_arrivals(controls, accepted_count, timeout=120))
    half = [(t, pending) for t, pending, _ in depth_samples if t >= load_seconds / 2]
    growth = queue_slope(half) * load_seconds / 2
    flat = bool(half) and growth < target * 0.5 and max(d for _, d in half) <= target
    p99 = round(percentile(values, 0.99), 1) if values else None
    return {
        "max_accept_rps_with_worker": max_with_delivery["rps"],
        "target_rps": target,
        "achieved_rps": round(accepted_count / load_seconds, 1),
        "errors": sum(1 for r in results if r[2] != 200),
        "accept_p50_ms": round(percentile([r[1] * 1000 for r in results], 0.5), 1),
        "accept_p99_ms": round(percentile([r[1] * 1000 for r in results], 0.99), 1),
        "provider_p50_ms": round(percentile(values, 0.5), 1) if values else None,
        "provider_p99_ms": p99,
        "undelivered": missing,
        "queue_depth_second_half_max": max(d for _, d in half) if half else None,
        "queue_depth_second_half_first_last": [half[0][1], half[-1][1]] if half else None,
        "queue_growth_second_half": round(growth, 1),
        "queue_flat": flat,
        "meets_target": flat and p99 is not None and p99 < 1000 and not missing,
        "cpu_cores_by_role": cpu_at_load,
        "queue_depth_samples": depth_samples,
    }


def run_profile(env, fixtures, quick):
    """pyinstrument flame graphs of a send, the bare view and a worker batch (bench/profile.py)."""
    prefix = ROOT / "bench" / "results" / f"profile-{time.strftime('%Y%m%d-%H%M%S')}"
    prefix.parent.mkdir(exist_ok=True)
    env = {**env, "BENCH_PROFILE_REPEAT": env.get("BENCH_PROFILE_REPEAT", "200" if quick else "1000")}
    out = subprocess.run([PYTHON, "-m", "bench.profile", str(prefix), json.dumps(fixtures)], env=env, cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


PGBENCH_CLIENTS_AT_RATE = (2, 8, 16, 24)  # 8: the plain web's threads; 24: the Procfile's on 2 cores (3 x 8)


def pgbench(db_url, statements, seconds, clients, work_dir, mode="simple", rate=None, options=""):
    """The ceiling: the statements of one send, replayed by pgbench with the same concurrency.

    mode "simple" sends each statement as text to be parsed and planned, as the send API does;
    "prepared" parses it once per connection (what server-side prepared statements would save).
    `rate`: pgbench -R, that many sends a second at most (the send's own rate: what PostgreSQL costs at it).
    `options`: the sessions' settings, added to PGOPTIONS ("-c synchronous_commit=off").
    Also the machine's CPU per send meanwhile, less pgbench's own: PostgreSQL's, whose backends end with the run.
    """
    script = work_dir / "send.sql"
    script.write_text("".join(" ".join(sql.split()) + ";\n" for sql in statements))
    busy_before, children_before = machine_busy_seconds(), _children_cpu_seconds()
    out = subprocess.run(["pgbench", "-n", "-M", mode, "-c", str(clients), "-j", "2", "-T", str(seconds),
                          *(["-R", str(round(rate))] if rate else []), "-f", str(script), db_url],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PGOPTIONS": f"{os.getenv('PGOPTIONS', '')} {options}".strip()}).stdout
    busy = machine_busy_seconds() - busy_before - (_children_cpu_seconds() - children_before)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {"tps": round(tps, 1), "latency_avg_ms": float(latency.group(1)) if latency else None,
            "statements_per_send": len(statements),
            "cpu_ms_per_send_less_pgbench": round(busy * 1000 / max(tps * seconds, 1), 3)}


def machine_busy_seconds():
    """CPU seconds the whole machine has spent busy (not idle or waiting for I/O) since boot, from /proc/stat."""
    fields = _machine_cpu_ticks()
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def machine_idle_seconds():
    """(idle, waiting for I/O): CPU seconds the whole machine has spent so since boot, from /proc/stat."""
    fields = _machine_cpu_ticks()
    return fields[3] / os.sysconf("SC_CLK_TCK"), fields[4] / os.sysconf("SC_CLK_TCK")


def _machine_cpu_ticks():
    return [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def _children_cpu_seconds():
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


KEY_SEND_TEXT = "Bench: door bell"


def accept_requests(send_body, fixtures):
    """{name: (path, body, content type)} of the accept phase's measured requests, each a 200.

    The send through a key (hook, Gotify, ntfy) sends as the send API's body does: the same verified
    channel, the same recipient, the same text (issue 27, target 4).
    """
    key = fixtures["key"]
    text_only = {"message": KEY_SEND_TEXT}
    return {
        "bare_django_view": ("/bench/bare", send_body, "application/json"),
        "send_200": ("/v1/messages/send", send_body, "application/json"),
        "hook_200": (f"/v1/hooks/{key}", text_only, "application/json"),
        "gotify_200": (f"/message?token={key}", text_only, "application/json"),
        "ntfy_200": (f"/{key}", KEY_SEND_TEXT, "text/plain"),
    }


KEY_SENDS = ("hook_200", "gotify_200", "ntfy_200")


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def accept_phase(base, send_body, fixtures, seconds, work_dir, web=None, repeat=3, py_spy=False, db_url=None):
    """Accept, with no worker running (the web tier alone; queued work is discarded after).

    The bare view, the send and the three sends through a key are measured in turn, `repeat` rounds
    in a row, so every ratio is taken within one round (minutes apart at most) and its spread is seen.
    """
    requests = accept_requests(send_body, fixtures)
    for path, body, content_type in requests.values():  # warm-up
        wrk(base + path, body, 2, 16, work_dir, content_type)

    def with_cpu(path, body, content_type="application/json"):
        """wrk, and the CPU per request of gunicorn and PostgreSQL meanwhile (ms).

        PostgreSQL is the postmaster and the backends serving the bench's database (role "postgres (bench
        database)", read at each reading: the web's connections are replaced every DB_CONN_MAX_AGE, and a
        backend that ends counts through the postmaster, cpu_spent), so other databases' backends on a shared
        server are not counted, except those that end during the run."""
        roles = {"web": web.pids()} if web else {}

        def reading():
            if web:
                roles["web"] = web.pids()
            if db_url:
                with psycopg.connect(db_url, autocommit=True) as conn:
                    own, backends = conn.execute(
                        "SELECT pg_backend_pid(), array_agg(pid) FILTER (WHERE pid <> pg_backend_pid()) "
                        "FROM pg_stat_activity WHERE datname = current_database()").fetchone()
                    postmaster = parent_and_cpu_seconds([own])[own][0]  # this connection's backend's parent
                roles["postgres (bench database)"] = [*(backends or []), postmaster]
            return cpu_by_process(roles)

        started = time.monotonic()
        result = balanced_wrk(roles.get("web"), base + path, body, seconds, 16, work_dir, content_type,
                              cpu=reading)
        before, used = result.pop("cpu")
        for role, key in (("web", "web"), ("postgres (bench database)" if db_url else "postgres", "postgres")):
            spent = cpu_spent(before, used, role)
            result[f"{key}_cpu_ms_per_request"] = round(spent * 1000 / max(result["requests"], 1), 3)
        result["seconds"] = round(time.monotonic() - started, 1)
        result["load_average"] = round(os.getloadavg()[0], 2)
        return result

    rounds = []
    for _ in range(repeat):
        measured = {name: with_cpu(*request) for name, request in requests.items()}
        measured["send_to_bare_ratio"] = round(measured["send_200"]["rps"] / measured["bare_django_view"]["rps"], 3)
        for name in KEY_SENDS:
            measured[f"{name}_to_send_ratio"] = round(measured[name]["rps"] / measured["send_200"]["rps"], 3)
        rounds.append(measured)
    ratios = [r["send_to_bare_ratio"] for r in rounds]
    # The round with the median ratio stands for the run; every round is kept.
    accept = dict(sorted(rounds, key=lambda r: r["send_to_bare_ratio"])[len(rounds) // 2])
    accept.update({
        "rounds": rounds,
        "send_to_bare_ratio": round(median(ratios), 3),
        "send_to_bare_ratio_range": [min(ratios), max(ratios)],
        "send_200_full_stack": wrk(base + "/bench/send-full-stack", send_body, seconds, 16, work_dir),
        "send_4029_over_limit": wrk(base + "/v1/messages/send",
                                    {**send_body, **fixtures["limited"]}, seconds, 16, work_dir),
        "send_4003_wrong_secret": wrk(base + "/v1/messages/send",
                                      {**send_body, "secret": "0" * 64}, seconds, 16, work_dir),
    })
    if py_spy and web:
        accept["py_spy"] = py_spy_profiles(requests, web, seconds, work_dir, with_cpu)
    for name in KEY_SENDS:
        key_ratios = [r[f"{name}_to_send_ratio"] for r in rounds]
        accept[f"{name}_to_send_ratio"] = round(median(key_ratios), 3)
        accept[f"{name}_to_send_ratio_range"] = [min(key_ratios), max(key_ratios)]
    accept["send_full_stack_to_bare_ratio"] = round(
        accept["send_200_full_stack"]["rps"] / accept["bare_django_view"]["rps"], 3)
    return accept


def py_spy_profiles(requests, web, seconds, work_dir, with_cpu):
    """py-spy on every web worker during one more wrk run each of the bare view, the send and the hook
    (after the measured rounds: sampling slows the workers). {name: {rps, web CPU ms, parts}} (bench/pyspy.py)."""
    import threading

    from bench import pyspy

    profiled = {}
    for name in ("bare_django_view", "send_200", "hook_200"):
        holder = {}
        pids = pyspy.workers(web.pids())
        spy = threading.Thread(target=lambda: holder.update(parts=pyspy.record(pids, seconds, work_dir, name)))
        spy.start()
        time.sleep(0.5)  # py-spy attached
        measured = with_cpu(*requests[name])
        spy.join()
        cpu = measured["web_cpu_ms_per_request"]
        profiled[name] = {"rps": measured["rps"], "web_cpu_ms_per_request": cpu,
                          "samples": sum(holder["parts"].values()), "parts": pyspy.shares(holder["parts"], cpu)}
    return profiled


# The issue's plain settings for both apps: gunicorn's own gthread worker, no config file, no nice.
PLAIN_WEB = "gunicorn kilopush.wsgi --workers 2 --threads 4 --worker-class gthread --bind 127.0.0.1:{port}"


def dropped_unbalanced(a):
    """wrk runs of the rounds measured again because they left a web worker idle (balanced_wrk)."""
    return sum(m.get("unbalanced_runs", 0) for r in a.get("rounds", []) for m in r.values() if isinstance(m, dict))


def accept_rows(a, label):
    rows = []
    for name, key in (("bare Django JSON view", "bare_django_view"), ("send 200 (verified channel)", "send_200"),
                      ("hook /v1/hooks/KEY 200", "hook_200"), ("Gotify /message 200", "gotify_200"),
                      ("ntfy /KEY 200", "ntfy_200"),
                      ("send 200 behind the full middleware", "send_200_full_stack"),
                      ("4029 over the limit", "send_4029_over_limit"), ("4003 wrong secret", "send_4003_wrong_secret")):
        if key in a:
            rows.append((f"{label}: {name}", f"{a[key]['rps']} req/s",
                         f"p50 {a[key]['p50_ms']} ms, p99 {a[key]['p99_ms']} ms"
                         + (f", {a[key]['non_2xx']} not 2xx" if a[key].get("non_2xx") and "4" not in key[5:9] else "")))
    spread = a.get("send_to_bare_ratio_range")
    rows.append((f"{label}: send / bare (target >= 0.35)", f"{a['send_to_bare_ratio']}",
                 (f"median of {len(a.get('rounds', []))} rounds, range {spread[0]}-{spread[1]}; " if spread else "")
                 + f"full-stack send / bare {a.get('send_full_stack_to_bare_ratio')}"
                 + f"; {dropped_unbalanced(a)} unbalanced wrk runs measured again"))
    for key in KEY_SENDS:
        if f"{key}_to_send_ratio" in a:
            low, high = a[f"{key}_to_send_ratio_range"]
            rows.append((f"{label}: {key.split('_')[0]} / send (target >= 0.9)", f"{a[f'{key}_to_send_ratio']}",
                         f"range {low}-{high}"))
    for name, spied in a.get("py_spy", {}).items():
        rows.append((f"{label}: py-spy {name}", f"web {spied['web_cpu_ms_per_request']} ms/req",
                     f"{spied['samples']} samples at {spied['rps']} req/s"))
        for part, share, ms in spied["parts"]:
            rows.append((f"    {part}", f"{share * 100:.1f}%",
                         f"{ms} ms CPU per request" if ms is not None else "samples, as a share of the CPU samples"))
    if "web_cpu_ms_per_request" in a["send_200"]:
        rows.append((f"{label}: CPU per request, send / bare", f"web {a['send_200']['web_cpu_ms_per_request']} ms",
                     f"/ {a['bare_django_view']['web_cpu_ms_per_request']} ms; PostgreSQL per send "
                     f"{a['send_200']['postgres_cpu_ms_per_request']} ms"))
    return rows


def print_table(r):
    rows = []
    for e in r.get("embedded", []):
        rows.append((f"embedded make run: {e['label']}", f"p50 {e['p50_ms']} ms",
                     f"p95 {e['p95_ms']} ms, idle CPU {e['idle_cpu_cores_all_processes'] * 100:.2f}% of a core"))
        if e.get("burst"):
            rows.append((f"embedded make run: {e['label']}, burst of {e['burst']}", f"p50 {e['burst_p50_ms']} ms",
                         f"p95 {e['burst_p95_ms']} ms ({e['burst_delivered']} pushed)"))
    for label, key in (("accept (Procfile)", "accept"), ("accept (plain gthread 2x4)", "accept_plain")):
        if key in r:
            rows += accept_rows(r[key], label)
    a = r.get("accept") or r.get("accept_plain")
    if a:
        if "pgbench_same_sql" in a:
            rows.append(("ceiling: pgbench, a send's SQL, 16 clients", f"{a['pgbench_same_sql']['tps']} sends/s",
                         f"send / pgbench {a['send_to_pgbench_ratio']}, {a['pgbench_same_sql']['statements_per_send']}"
                         " statement(s) per send"))
            if "pgbench_same_sql_prepared" in a:
                full = a["pgbench_same_sql_prepared"]
                rows.append(("ceiling: the same, prepared (pgbench -M prepared)", f"{full['tps']} sends/s",
                             f"PostgreSQL {full.get('cpu_ms_per_send_less_pgbench')} ms CPU per send"))
            if "pgbench_same_sql_prepared_at_send_rate" in a:
                paced = a["pgbench_same_sql_prepared_at_send_rate"]
                rows.append(("the same at the send's rate (pgbench -R)", f"{paced['tps']} sends/s",
                             f"PostgreSQL {paced['cpu_ms_per_send_less_pgbench']} ms CPU per send"))
            if "pgbench_at_send_rate_by_clients" in a:
                by = a["pgbench_at_send_rate_by_clients"]
                rows.append(("the same by connections: PostgreSQL CPU per send", f"{min(by.values())}-{max(by.values())} ms",
                             ", ".join(f"{clients}: {ms}" for clients, ms in by.items())))
    if "profile" in r:
        p = r["profile"]
        rows.append(("in-process CPU per call: send / bare", f"{p['send']['cpu_per_call_ms']} ms",
                     f"{p['bare']['cpu_per_call_ms']} ms (bare/send {p['bare']['cpu_per_call_ms'] / p['send']['cpu_per_call_ms']:.3f})"))
        rows.append(("in-process worker batch (CPU)", f"{p['worker_batch']['cpu_ms']} ms", f"{p['worker_batch']['deliveries']} deliveries"))
    if "delivery" in r:
        d = r["delivery"]
        rows += [
            ("delivery: stand-ins answer at once", f"{d['0ms']['pushes_per_second']} pushes/s", f"{d['0ms']['pushes']} pushes, middle 80%: {d['0ms']['steady_pushes_per_second']}/s"),
            ("delivery: stand-ins answer after 50 ms", f"{d['50ms']['pushes_per_second']} pushes/s", f"{d['50ms']['pushes']} pushes, middle 80%: {d['50ms']['steady_pushes_per_second']}/s"),
            ("delivery: 50 ms / 0 ms (target >= 0.8)", f"{d['ratio_50ms_to_0ms']}", f"middle 80%: {d['steady_ratio_50ms_to_0ms']}"),
            ("delivery: pushes per worker CPU-second (0 ms)", f"{d['0ms'].get('pushes_per_worker_cpu_second')}",
             f"{d['0ms'].get('worker_cpu_seconds')} CPU-s of all its processes after its first push (FCM and APNs)"),
        ]
        if "fcm_0ms" in d:
            rows.append(("delivery: FCM only, pushes per worker CPU-s (target >= 2000)",
                         f"{d['fcm_0ms'].get('pushes_per_worker_cpu_second')}",
                         f"{d['fcm_0ms']['pushes']} pushes at {d['fcm_0ms']['pushes_per_second']}/s, "
                         f"{d['fcm_0ms'].get('worker_cpu_seconds')} CPU-s"))
    if "latency_idle" in r:
        i, l = r["latency_idle"], r["latency_at_80_percent"]
        rows += [
            ("accept-to-provider idle (p50 target < 20 ms)", f"p50 {i['p50_ms']} ms", f"p99 {i['p99_ms']} ms"),
        ]
        for k, run in enumerate(l.get("runs", [l]), 1):
            rows += [
                (f"run {k}: max accept with the worker delivering", f"{run['max_accept_rps_with_worker']} req/s", ""),
                (f"run {k}: at 80% load ({run['target_rps']} req/s offered)", f"{run['achieved_rps']} req/s accepted",
                 f"accept p99 {run['accept_p99_ms']} ms"),
                (f"run {k}: accept-to-provider at 80% (p99 < 1 s)", f"p50 {run['provider_p50_ms']} ms",
                 f"p99 {run['provider_p99_ms']} ms"),
                (f"run {k}: queue, 2nd half of the load", f"max {run['queue_depth_second_half_max']}",
                 f"grew {run['queue_growth_second_half']}, flat: {'yes' if run['queue_flat'] else 'no'}; "
                 f"target {'met' if run['meets_target'] else 'not met'}"),
                (f"run {k}: CPU at 80% load, cores by role",
                 ", ".join(f"{name} {v}" for name, v in run["cpu_cores_by_role"].items()), ""),
            ]
        if "processes" in l:
            pr = l["processes"]
            rows.append(("processes (Procfile defaults)", f"{pr['gunicorn_workers']} gunicorn workers",
                         f"x {pr['gunicorn_threads']} threads at nice {pr['web_nice']}; "
                         f"Celery pool {pr['celery_pool_processes']} processes"))
        if "runs" in l:
            rows.append(("80% load: runs flat with p99 < 1 s (target 4 of 5)",
                         f"{l['runs_meeting_target']} of {len(l['runs'])}", ""))
    if "memory" in r:
        m = r["memory"]
        rows.append(("peak RSS: web worker / celery worker", f"{m.get('web_worker_peak_rss_mb')} MB",
                     f"{m.get('celery_worker_peak_rss_mb', '-')} MB"))
    if "stream" in r:
        rows += stream_bench.table_rows(r["stream"])
    if "idle_streams" in r:
        from bench import stream_idle

        rows += stream_idle.table_rows(r["idle_streams"])
    if "emergency" in r:
        e = r["emergency"]
        rows.append((f"emergency: {e['emergencies']} at once, retry {e['retry_s']} s", f"late max {e['late_max_s']} s",
                     f"p99 {e['late_p99_s']} s, missing {e['missing']}, doubled {e['doubled']}"))
    if "webhooks" in r:
        w = r["webhooks"]
        low, high = w["events_per_worker_cpu_second_range"]
        rows.append(("webhooks: events per worker CPU-second (target >= 1000)", f"{w['events_per_worker_cpu_second']}",
                     f"range {low}-{high} over {len(w['runs'])} runs; {w['events_per_second']} events/s, "
                     f"{w['delivered']} of {w['events']} delivered over {w['receiver_connections']} connection(s)"))
    if "scheduled" in r:
        e = r["scheduled"]
        rows.append((f"scheduled: {e['scheduled']} for one second", f"late max {e['late_max_s']} s",
                     f"p99 {e['late_p99_s']} s, early {e['early']}, missing {e['missing']}, doubled {e['doubled']}"))
    width = max(len(row[0]) for row in rows)
    machine = r["machine"]
    print(f"\nKILO.Push benchmark ({machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}, "
          f"load average {machine['load_average_at_start'][0]:.1f} at start, {machine['load_average_at_end'][0]:.1f} at end)")
    for name, value, extra in rows:
        print(f"  {name:<{width}}  {value:>22}  {extra}")


if __name__ == "__main__":
    main()
