"""The live stream's figures (make bench; alone: make bench BENCH_ARGS="--only stream").

- accept -> open stream: from the moment a send was due to its `message` event on an open stream,
  p50 and p99, with PostgreSQL + Redis and in the embedded mode (SQLite, no Redis);
- RSS of one stream process holding 2,000 idle streams;
- a message to each of those 2,000 users: from each send's 200 answer to its event, and from the
  first send to the last event.
The web (gunicorn) and stream (uvicorn) processes are started with the Procfile's command lines.
"""

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

from bench.load import percentile, run_at_rate

USERS = """
import json, sys
import django
django.setup()
from channels_app.services import channel_create, channel_set_verified
from users_app.services import app_user_create
people = []
for i in range(int(sys.argv[1])):
    user, access = app_user_create(platform="web", push_token="")
    people.append([user.token, access])
owner, _ = app_user_create(platform="web", push_token="")
channel = channel_create(owner=owner, name="Bench stream")
channel_set_verified(channel=channel, verified=True)
print(json.dumps({"people": people, "channel": {"token": channel.token, "secret": channel.secret}}))
"""


class StreamReader:
    """One open stream (raw HTTP/1.1): the arrival time of each message id."""

    def __init__(self, port, access_token, arrivals):
        self.port, self.access_token, self.arrivals = port, access_token, arrivals
        self.task = None
        self.ready = asyncio.Event()

    async def start(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET /v1/app/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.access_token}\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise SystemExit(f"stream refused: {status!r}")
        self.writer = writer
        self.task = asyncio.create_task(self._read(reader))
        await self.ready.wait()

    async def _read(self, reader):
        try:
            while line := await reader.readline():
                if line.startswith(b": connected"):
                    self.ready.set()
                elif line.startswith(b"id: "):
                    self.arrivals.setdefault(int(line[4:]), time.time())
        except (OSError, asyncio.CancelledError):
            pass

    def close(self):
        if self.task:
            self.task.cancel()
        self.writer.close()


def rss_mb(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def uvicorn_pid(proc):
    """The Python process running uvicorn (not the shell that started it)."""
    for pid in proc.pids():
        try:
            if "python" in os.readlink(f"/proc/{pid}/exe") and b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            pass
    raise SystemExit("no uvicorn process")


def start_pair(Proc, procfile, env, log_dir, tag, free_port, wait_for_port):
    """gunicorn (`web`) and uvicorn (`stream`) with the Procfile's commands; returns (web, stream, ports)."""
    web_port, stream_port = free_port(), free_port()
    # Every bench client is one address (127.0.0.1): the per-address cap is lifted here, and only here.
    pair_env = {**env, "PORT": str(web_port), "STREAM_PORT": str(stream_port), "STREAM_MAX_PER_ADDRESS": "1000000"}
    web = Proc(f"web-{tag}", procfile["web"], pair_env, log_dir, shell=True)
    stream = Proc(f"stream-{tag}", procfile["stream"], pair_env, log_dir, shell=True)
    wait_for_port(web_port)
    wait_for_port(stream_port)
    return web, stream, web_port, stream_port


def send_bodies(fixtures, count, text):
    channel = fixtures["channel"]
    people = fixtures["people"]
    return [
        json.dumps({"to": people[i % len(people)][0], **channel, "message": f"{text} #{i}"}).encode()
        for i in range(count)
    ]


async def latency_run(web_port, stream_port, fixtures, count, rate):
    """One stream open for the first person; `count` sends to them at `rate`/s: due -> event (ms)."""
    arrivals = {}
    reader = StreamReader(stream_port, fixtures["people"][0][1], arrivals)
    await reader.start()
    bodies = send_bodies({**fixtures, "people": fixtures["people"][:1]}, count, "latency")
    results = await run_at_rate("127.0.0.1", web_port, "/v1/messages/send", bodies, rate=rate,
                                duration=count / rate, connections=4)
    deadline = time.time() + 10
    wanted = {int(r[3]) for r in results if r[2] == 200}
    while not wanted <= set(arrivals) and time.time() < deadline:
        await asyncio.sleep(0.05)
    reader.close()
    ok = [(sent_at, latency, int(m)) for sent_at, latency, status, m in results if status == 200 and int(m) in arrivals]
    due = [(arrivals[m] - sent_at) * 1000 for sent_at, _, m in ok]
    answered = [(arrivals[m] - sent_at - latency) * 1000 for sent_at, latency, m in ok]
    return {"messages": len(ok), "missing": len(wanted - set(arrivals)),
            "p50_ms": round(percentile(due, 0.5), 1), "p99_ms": round(percentile(due, 0.99), 1),
            "accept_p50_ms": round(percentile([latency * 1000 for _, latency, _ in ok], 0.5), 1),
            "answer_to_event_p50_ms": round(percentile(answered, 0.5), 1),
            "answer_to_event_p99_ms": round(percentile(answered, 0.99), 1)}


async def fan_out_run(web_port, stream_port, stream_pid, fixtures, rate):
    """Every person opens a stream (idle RSS measured), then each gets one message."""
    people = fixtures["people"]
    arrivals = {}
    rss_before = rss_mb(stream_pid)
    readers = [StreamReader(stream_port, access, arrivals) for _, access in people]
    opened = time.time()
    for i in range(0, len(readers), 100):
        await asyncio.gather(*(r.start() for r in readers[i:i + 100]))
    open_seconds = time.time() - opened
    await asyncio.sleep(5)  # idle
    idle = {"streams": len(readers), "rss_before_mb": rss_before, "rss_mb": rss_mb(stream_pid),
            "peak_rss_mb": rss_mb(stream_pid, "VmHWM"), "open_seconds": round(open_seconds, 1)}
    bodies = send_bodies(fixtures, len(people), "fan-out")
    results = await run_at_rate("127.0.0.1", web_port, "/v1/messages/send", bodies, rate=rate,
                                duration=len(bodies) / rate, connections=32)
    wanted = {int(r[3]) for r in results if r[2] == 200}
    deadline = time.time() + 30
    while not wanted <= set(arrivals) and time.time() < deadline:
        await asyncio.sleep(0.05)
    for reader in readers:
        reader.close()
    answered = {int(m): sent_at + latency for sent_at, latency, status, m in results if status == 200}
    fan = [(arrivals[m] - answered[m]) * 1000 for m in wanted if m in arrivals]
    first_sent = min(r[0] for r in results)
    fan_out = {
        "messages": len(bodies),
        "accepted": len(wanted),
        "reached": len(wanted & set(arrivals)),
        "answer_to_event_p50_ms": round(percentile(fan, 0.5), 1) if fan else None,
        "answer_to_event_p99_ms": round(percentile(fan, 0.99), 1) if fan else None,
        "answer_to_event_max_ms": round(max(fan), 1) if fan else None,
        "sending_seconds": round(max(answered.values()) - first_sent, 2),
        "first_send_to_last_event_seconds": round(max(arrivals[m] for m in wanted if m in arrivals) - first_sent, 2),
        "rate_offered": rate,
    }
    idle["peak_rss_after_fan_out_mb"] = rss_mb(stream_pid, "VmHWM")
    return idle, fan_out


def run(*, env, log_dir, work_dir, procfile, Proc, free_port, wait_for_port, python, root, quick=False):
    users = 200 if quick else 2000
    latency_count = 30 if quick else 100
    procs = []
    try:
        fixtures = json.loads(subprocess.run([python, "-c", USERS, str(users)], env=env, cwd=root, check=True,
                                             capture_output=True, text=True).stdout.strip().splitlines()[-1])
        web, stream, web_port, stream_port = start_pair(Proc, procfile, env, log_dir, "redis", free_port, wait_for_port)
        procs += [web, stream]
        time.sleep(1)
        asyncio.run(latency_run(web_port, stream_port, fixtures, 100, 25))  # warm-up: every web thread connects
        redis_latency = asyncio.run(latency_run(web_port, stream_port, fixtures, latency_count, 10))
        idle, fan_out = asyncio.run(fan_out_run(web_port, stream_port, uvicorn_pid(stream), fixtures, rate=500))
        for proc in (stream, web):
            proc.stop()
            procs.remove(proc)

        # Embedded: SQLite under a var directory of its own, no Redis (the stream polls every 250 ms).
        var = work_dir / "embedded"
        subprocess.run(["rm", "-rf", str(var)], check=True)
        embedded_env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        embedded_env["KILOPUSH_VAR_DIR"] = str(var)
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], env=embedded_env, cwd=root, check=True)
        embedded_fixtures = json.loads(subprocess.run([python, "-c", USERS, "2"], env=embedded_env, cwd=root,
                                                      check=True, capture_output=True, text=True
                                                      ).stdout.strip().splitlines()[-1])
        web, stream, web_port, stream_port = start_pair(Proc, procfile, embedded_env, log_dir, "embedded", free_port,
                                                        wait_for_port)
        procs += [web, stream]
        time.sleep(1)
        asyncio.run(latency_run(web_port, stream_port, embedded_fixtures, 20, 10))  # warm-up
        embedded_latency = asyncio.run(latency_run(web_port, stream_port, embedded_fixtures, latency_count // 2, 5))
    finally:
        for proc in reversed(procs):
            proc.stop()
    return {"latency_redis": redis_latency, "latency_embedded": embedded_latency, "idle_streams": idle,
            "fan_out": fan_out}


def table_rows(s):
    r, e, i, f = s["latency_redis"], s["latency_embedded"], s["idle_streams"], s["fan_out"]
    return [
        ("stream: send due -> event, Redis (p50 <= 50 ms)", f"p50 {r['p50_ms']} ms", f"p99 {r['p99_ms']} ms; accept p50 {r['accept_p50_ms']} ms, 200 answer -> event p50 {r['answer_to_event_p50_ms']} ms, p99 {r['answer_to_event_p99_ms']} ms; {r['messages']} messages, {r['missing']} missing"),
        ("stream: send due -> event, embedded (p50 <= 300 ms)", f"p50 {e['p50_ms']} ms", f"p99 {e['p99_ms']} ms; accept p50 {e['accept_p50_ms']} ms, 200 answer -> event p50 {e['answer_to_event_p50_ms']} ms, p99 {e['answer_to_event_p99_ms']} ms; {e['messages']} messages, {e['missing']} missing"),
        (f"stream: {i['streams']} idle streams, RSS (<= 200 MB)", f"{i['rss_mb']} MB", f"idle process {i['rss_before_mb']} MB, peak {i['peak_rss_mb']} MB, opened in {i['open_seconds']} s"),
        (f"stream: a message to each of {f['messages']} (all within 2 s)", f"max {f['answer_to_event_max_ms']} ms", f"answer -> event p50 {f['answer_to_event_p50_ms']} ms, p99 {f['answer_to_event_p99_ms']} ms; reached {f['reached']}/{f['accepted']}; sends took {f['sending_seconds']} s at {f['rate_offered']}/s offered, first send -> last event {f['first_send_to_last_event_seconds']} s"),
    ]
