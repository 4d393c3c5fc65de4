"""Why the web keeps kilopush/gunicorn_worker.py (issue 26): other servers side by side, in one run.

    .venv/bin/python -m bench.web_servers [--rounds N] [--only TEXT]

Each candidate is started in turn (the order reversed every other round) on bench.run's database
and fixtures (BENCH_DATABASE_URL, BENCH_REDIS_URL), and measured twice:

- throughput: wrk (2 threads, 16 connections, 10 s) on `POST /v1/messages/send` to a verified
  channel and on the bare Django view, and the server's CPU per send, as bench.run's accept phase;
- slow bodies: 4 × processes × threads + 10 (106) connections each send a send API request's head
  announcing 60,000 bytes and 40,000 of them, then stall; then `GET /healthz` on a fresh connection (answered, and in how long, or not
  within 10 s), as tests/security/test_slow_bodies.py does.

Candidates: the Procfile's web (gunicorn with kilopush.gunicorn_worker); Django's ASGI handler, behind
kilopush.asgi's body cap and read deadline, under uvicorn with httptools and, when installed, under
granian; and granian's WSGI interface (`pip install granian` to include those two). Every candidate
gets 3 processes (8 threads for a WSGI one) and the same priority (WEB_NICE=0). Prints one line per
measure and writes JSON to bench/results/web-servers-<time>.json.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import psycopg
import redis

from bench import run as bench

PROCESSES, THREADS = 3, 8
# As tests/security/test_slow_clients.py: enough for every process, however unevenly they accept.
SLOW = 4 * PROCESSES * THREADS + 10
ASGI_WEB = "bench.web_servers:asgi_web"
CANDIDATES = {
    "gunicorn + kilopush.gunicorn_worker (the Procfile's web)":
        f"WEB_NICE=0 WEB_CONCURRENCY={PROCESSES} WEB_THREADS={THREADS} " + bench.PROCFILE["web"],
    "uvicorn (httptools), Django ASGI": f"uvicorn {ASGI_WEB} --workers {PROCESSES} --http httptools --host 127.0.0.1 "
                                        "--port ${PORT:-8000} --no-access-log --lifespan off",
    "granian, Django ASGI": f"granian --interface asgi --workers {PROCESSES} --host 127.0.0.1 "
                            f"--port ${{PORT:-8000}} --no-ws {ASGI_WEB}",
    "granian, WSGI": f"granian --interface wsgi --workers {PROCESSES} --blocking-threads {THREADS} --host 127.0.0.1 "
                     "--port ${PORT:-8000} --no-ws kilopush.wsgi:application",
}


async def asgi_web(scope, receive, send):
    """The whole web as Django's ASGI handler, behind kilopush.asgi's body cap and WEB_READ_TIMEOUT."""
    global _asgi
    if _asgi is None:
        _asgi = _make_asgi_web()
    await _asgi(scope, receive, send)


_asgi = None


def _make_asgi_web():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
    import django

    django.setup(set_prefix=False)
    from django.core.handlers.asgi import ASGIHandler

    from kilopush import checks

    checks.run_at_startup = lambda role: None  # made inside the event loop, where it cannot run; the bench checked
    from kilopush import asgi

    handler = ASGIHandler()

    async def application(scope, receive, send):
        if scope["type"] != "http":
            return
        receive = await asgi._capped_receive(scope, receive, send)
        if receive is not None:
            await handler(scope, receive, send)

    return application


def slow_bodies(port, count):
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            # The send API reads every body (it holds the channel's token); a throttle would answer some unread.
            sock.sendall(b"POST /v1/messages/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 60000\r\n\r\n" + b" " * 40_000)
            socks.append(sock)
        time.sleep(1)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            try:
                answer = sock.recv(64)
            except TimeoutError:
                return {"healthz": "no answer within 10 s"}
        return {"healthz": answer.split(b"\r\n", 1)[0].decode("latin-1"),
                "seconds": round(time.monotonic() - started, 2)}
    finally:
        for sock in socks:
            sock.close()


def measure(name, command, env, fixtures, port, work_dir):
    send_body = bench.send_body_of(fixtures)
    bench.PROCFILE["web"] = command
    web = bench.Proc("web", bench.procfile_command("web", port), env, work_dir / "logs", shell=True)
    try:
        bench.wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        bench.wait_for_answer(base + "/healthz")
        bench.wrk(base + "/bench/bare", send_body, 2, 16, work_dir)  # warm-up
        bench.wrk(base + "/v1/messages/send", send_body, 2, 16, work_dir)
        bare = bench.wrk(base + "/bench/bare", send_body, 10, 16, work_dir)
        roles = {"web": web.pids()}
        before = bench.cpu_by_process(roles)
        send = bench.wrk(base + "/v1/messages/send", send_body, 10, 16, work_dir)
        cpu = bench.cpu_spent(before, bench.cpu_by_process(roles), "web")
        slow = slow_bodies(port, SLOW)
    finally:
        web.stop()
    return {"send_rps": send["rps"], "send_p99_ms": send["p99_ms"], "bare_rps": bare["rps"],
            "web_cpu_ms_per_send": round(cpu * 1000 / max(send["requests"], 1), 2),
            "send_non_2xx": send["non_2xx"], "slow_bodies": slow, "load_average": os.getloadavg()[0]}


def clear_messages(db_url, redis_url):
    for attempt in range(20):  # a stopped candidate's database connections take a moment to go
        try:
            return bench.clear_messages(db_url, redis.Redis.from_url(redis_url), "kilopush")
        except psycopg.OperationalError:
            time.sleep(3)
    raise SystemExit("PostgreSQL refuses connections (max_connections)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", help="candidates whose name contains this (repeatable)")
    args = parser.parse_args(argv)
    names = [name for name, command in CANDIDATES.items()
             if (not args.only or any(text in name for text in args.only))
             and shutil.which(next(word for word in command.split() if "=" not in word))]
    db_url, redis_url = bench.bench_urls()
    work_dir = bench.ROOT / "var" / "bench-web-servers"
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    redis.Redis.from_url(redis_url).flushdb()
    bench.reset_database(db_url)
    env = bench.bench_env(db_url, redis_url)
    subprocess.run([bench.PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=bench.ROOT, check=True)
    fixtures = json.loads(subprocess.run([bench.PYTHON, "-c", bench.FIXTURES, "200"], env=env, cwd=bench.ROOT,
                                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    report = {"load_average_at_start": os.getloadavg(), "rounds": {}}
    print(f"Web servers, {args.rounds} rounds (load average {os.getloadavg()[0]:.1f})", flush=True)
    for number in range(args.rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            result = measure(name, CANDIDATES[name], env, fixtures, bench.free_port(), work_dir)
            report["rounds"].setdefault(name, []).append(result)
            clear_messages(db_url, redis_url)
            slow = result["slow_bodies"]
            print(f"  {number + 1} {name:58s} send {result['send_rps']:7.1f} req/s, "
                  f"{result['web_cpu_ms_per_send']:5.2f} ms CPU/send, bare {result['bare_rps']:7.1f} req/s; "
                  f"behind {SLOW} slow bodies /healthz: {slow['healthz']}"
                  + (f" in {slow['seconds']} s" if "seconds" in slow else "")
                  + f" (load {result['load_average']:.1f})", flush=True)
    report["load_average_at_end"] = os.getloadavg()
    path = bench.ROOT / "bench" / "results" / f"web-servers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"written to {path.relative_to(bench.ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
