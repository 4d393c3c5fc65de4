"""Many idle live streams in one stream process (issue 27): make bench BENCH_ARGS="--only idle_streams".

One stream process (the Procfile's `stream` command, Redis mode) and one web process. The streams are
opened step by step up to each count of --streams (default 1,000 then 10,000), each for an account of
its own, and left idle; at each count:

- the stream process's resident memory (VmRSS from /proc), and its CPU per idle second;
- a message to one of them (its own account, the others idle): from the moment the send was due to
  its `message` event, p50 and p99 (the target: p50 <= 50 ms);
- the wake-up's cost: the stream process's CPU during those sends, less its idle CPU over the same
  time, per send (the target: the same at every count).

The caps are raised for the bench only (STREAM_MAX_PER_PROCESS, STREAM_MAX_PER_ADDRESS: every client is
127.0.0.1). The client is this process: one asyncio loop and a socket per stream, so `ulimit -n` must
exceed the largest count (it is raised to the hard limit here).
"""

import asyncio
import datetime
import json
import resource
import subprocess
import time
from pathlib import Path

from bench.load import percentile, run_at_rate
from bench.stream import StreamReader, latency_run, rss_mb, send_bodies, start_pair, uvicorn_pid

# The accounts of the idle streams, made in bulk (app_user_create would take a minute per 10,000), and one
# recipient made as the app makes it.
ACCOUNTS = """
import json, sys
import django
django.setup()
from channels_app.services import channel_create, channel_set_verified
from kilopush import crypto
from users_app.models import AccessToken, AppUser
from users_app.services import app_user_create, new_access_token
count = int(sys.argv[1])
users = AppUser.objects.bulk_create([AppUser() for _ in range(count)], batch_size=2000)
tokens = [new_access_token() for _ in users]
AccessToken.objects.bulk_create([AccessToken(user=u, digest=crypto.digest(t)) for u, t in zip(users, tokens)],
                                batch_size=2000)
target, access = app_user_create(platform="web", push_token="")
owner, _ = app_user_create(platform="web", push_token="")
channel = channel_create(owner=owner, name="Bench idle streams")
channel_set_verified(channel=channel, verified=True)
print(json.dumps({"idle": tokens, "people": [[target.token, access]],
                  "channel": {"token": channel.token, "secret": channel.secret}}))
"""


class TargetReader(StreamReader):
    """The target's stream: each message's arrival and its created_at (when the send stored it)."""

    def __init__(self, port, access_token, arrivals):
        super().__init__(port, access_token, arrivals)
        self.created = {}

    async def _read(self, reader):
        current = None
        try:
            while line := await reader.readline():
                if line.startswith(b": connected"):
                    self.ready.set()
                elif line.startswith(b"id: "):
                    current = int(line[4:])
                    self.arrivals.setdefault(current, time.time())
                elif line.startswith(b"data: ") and current is not None:
                    created = json.loads(line[6:])["created_at"].replace("Z", "+00:00")
                    self.created.setdefault(current, datetime.datetime.fromisoformat(created).timestamp())
        except (OSError, asyncio.CancelledError):
            pass


async def target_latency(web_port, stream_port, fixtures, count, rate):
    """`count` sends to the target at `rate`/s: send due -> event, stored (created_at) -> event, 200 -> event."""
    arrivals = {}
    reader = TargetReader(stream_port, fixtures["people"][0][1], arrivals)
    await reader.start()
    bodies = send_bodies(fixtures, count, "idle-streams target")
    results = await run_at_rate("127.0.0.1", web_port, "/v1/messages/send", bodies, rate=rate,
                                duration=count / rate, connections=4)
    wanted = {int(r[3]) for r in results if r[2] == 200}
    deadline = time.time() + 15
    while not wanted <= set(arrivals) and time.time() < deadline:
        await asyncio.sleep(0.05)
    reader.close()
    ok = [(sent_at, latency, int(m)) for sent_at, latency, status, m in results if status == 200 and int(m) in arrivals]
    due = [(arrivals[m] - sent_at) * 1000 for sent_at, _, m in ok]
    stored = [(arrivals[m] - reader.created[m]) * 1000 for _, _, m in ok if m in reader.created]
    answered = [(arrivals[m] - sent_at - latency) * 1000 for sent_at, latency, m in ok]
    return {"messages": len(ok), "missing": len(wanted - set(arrivals)),
            "p50_ms": round(percentile(due, 0.5), 1), "p99_ms": round(percentile(due, 0.99), 1),
            "accept_p50_ms": round(percentile([latency * 1000 for _, latency, _ in ok], 0.5), 1),
            "stored_to_event_p50_ms": round(percentile(stored, 0.5), 1),
            "stored_to_event_p99_ms": round(percentile(stored, 0.99), 1),
            "answer_to_event_p50_ms": round(percentile(answered, 0.5), 1),
            "answer_to_event_p99_ms": round(percentile(answered, 0.99), 1)}


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # USER_HZ


def raise_open_files(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < wanted:
        raise SystemExit(f"ulimit -n is {soft}: {wanted} streams need more (raise the hard limit)")
    return soft


async def open_streams(port, tokens, readers, arrivals, at_once=200):
    """Opens a stream per access token, `at_once` at a time; returns how long it took."""
    started = time.monotonic()
    for i in range(0, len(tokens), at_once):
        chunk = [StreamReader(port, token, arrivals) for token in tokens[i:i + at_once]]
        await asyncio.gather(*(r.start() for r in chunk))
        readers += chunk
    return time.monotonic() - started


async def measure(web_port, stream_port, pid, fixtures, counts, sends, rate, idle_seconds):
    readers, arrivals, out = [], {}, []
    tokens = fixtures["idle"]
    for count in counts:
        opened = await open_streams(stream_port, tokens[len(readers):count - 1], readers, arrivals)
        await asyncio.sleep(idle_seconds)  # the opening's work done; idle from here
        rss = rss_mb(pid)
        cpu, clock = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(idle_seconds)
        idle_rate = (cpu_seconds(pid) - cpu) / (time.monotonic() - clock)
        cpu, clock = cpu_seconds(pid), time.monotonic()
        latency = await target_latency(web_port, stream_port, fixtures, sends, rate)
        spent, took = cpu_seconds(pid) - cpu, time.monotonic() - clock
        out.append({
            "streams": len(readers) + 1,
            "opened_seconds": round(opened, 1),
            "rss_mb": rss,
            "idle_cpu_ms_per_second": round(idle_rate * 1000, 1),
            "latency": latency,
            "wake_cpu_ms_per_send": round(max(spent - idle_rate * took, 0.0) / max(latency["messages"], 1) * 1000, 2),
            "stray_events": len(arrivals),  # messages that reached an idle stream: none expected
        })
        print(f"  {out[-1]['streams']:>6} streams: RSS {rss} MB, send due -> event p50 {latency['p50_ms']} ms "
              f"p99 {latency['p99_ms']} ms, stored -> event p50 {latency['stored_to_event_p50_ms']} ms, wake-up CPU {out[-1]['wake_cpu_ms_per_send']} ms/send, idle CPU "
              f"{out[-1]['idle_cpu_ms_per_second']} ms/s", flush=True)
    for reader in readers:
        reader.close()
    return out


def run(*, env, log_dir, work_dir, procfile, Proc, free_port, wait_for_port, python, root, counts=(1000, 10000),
        sends=100, rate=10, idle_seconds=5.0):
    counts = sorted(counts)
    raise_open_files(max(counts) + 1000)
    fixtures = json.loads(subprocess.run([python, "-c", ACCOUNTS, str(max(counts))], env=env, cwd=root, check=True,
                                         capture_output=True, text=True).stdout.strip().splitlines()[-1])
    (work_dir / "idle-streams-accounts.json").write_text(json.dumps(fixtures))
    caps = {"STREAM_MAX_PER_PROCESS": str(max(counts) + 100), "STREAM_MAX_PER_ACCOUNT": "1000"}
    procs = []
    try:
        web, stream, web_port, stream_port = start_pair(Proc, procfile, {**env, **caps}, log_dir, "idle", free_port,
                                                        wait_for_port)
        procs += [web, stream]
        pid = uvicorn_pid(stream)
        time.sleep(1)
        asyncio.run(latency_run(web_port, stream_port, fixtures, 50, 25))  # warm-up: every web thread connects
        rss_before = rss_mb(pid)
        steps = asyncio.run(measure(web_port, stream_port, pid, fixtures, counts, sends, rate, idle_seconds))
        peak = rss_mb(pid, "VmHWM")
    finally:
        for proc in reversed(procs):
            proc.stop()
    return {"rss_before_mb": rss_before, "peak_rss_mb": peak, "caps": caps, "steps": steps}


def table_rows(r):
    rows = []
    for s in r["steps"]:
        lat = s["latency"]
        rows.append((f"idle streams: {s['streams']} in one stream process", f"RSS {s['rss_mb']} MB",
                     f"send due -> event p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (accept p50 "
                     f"{lat['accept_p50_ms']} ms; stored -> event p50 {lat['stored_to_event_p50_ms']} ms, p99 "
                     f"{lat['stored_to_event_p99_ms']} ms; {lat['messages']} sends, "
                     f"{lat['missing']} missing); wake-up {s['wake_cpu_ms_per_send']} CPU-ms/send; idle "
                     f"{s['idle_cpu_ms_per_second']} CPU-ms/s; opened in {s['opened_seconds']} s"))
    return rows
