"""python -m bench.webpush: accept-to-Web-Push latency in production shape.

PostgreSQL and Redis (the real ones), gunicorn and a Celery worker as the Procfile starts them,
and the Web Push stand-in (tests/fakes/webpush.py) over TLS, in this process. Browsers are
registered with subscriptions bound to the server's VAPID key; messages are sent at a steady
rate to them, and the time from a send's scheduled start to the stand-in's receipt (decrypted,
VAPID checked) is the latency. Target (issue 12): p50 <= 50 ms with Redis.
"""

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from bench.load import percentile, run_at_rate
from bench.run import PYTHON, ROOT, Proc, free_port, procfile_command, reset_database, wait_for_port

FIXTURES = """
import json, sys
import django
django.setup()
from channels_app.services import channel_create, channel_set_verified
from users_app.services import app_user_create
recipients = [app_user_create(platform="web", subscription=s)[0].token for s in json.load(sys.stdin)]
sender, _ = app_user_create(push_token="")
channel = channel_create(owner=sender, name="Bench browsers")
channel_set_verified(channel=channel, verified=True)
print(json.dumps({"recipients": recipients, "token": channel.token, "secret": channel.secret}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browsers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="sends per second")
    args = parser.parse_args(argv)

    from tests.fakes.webpush import FakeWebPush

    from messaging import vapid

    db_url = os.getenv("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kilopush_bench_webpush")
    redis_url = os.getenv("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    work_dir = Path(tempfile.mkdtemp(prefix="bench-webpush-"))
    log_dir = work_dir / "logs"
    log_dir.mkdir()
    redis.Redis.from_url(redis_url).flushdb()
    reset_database(db_url)
    fake = FakeWebPush().start()
    pem = vapid.generate_pem()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FCM_", "APNS_", "WEBPUSH_", "VAPID_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="kilopush.settings", DATABASE_URL=db_url, REDIS_URL=redis_url,
        KILOPUSH_VAR_DIR=str(work_dir / "var"), SECRET_KEY="bench-" + "k" * 50, ALLOWED_HOSTS="127.0.0.1,localhost",
        VAPID_PRIVATE_KEY=pem, LOG_LEVEL="WARNING", PATH=f"{Path(PYTHON).parent}:{env.get('PATH', '')}",
        **fake.settings(work_dir),
    )
    procs = []
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
        key = vapid.public_key_point(vapid.load_pem(pem))
        subscriptions = [fake.subscribe(key).as_json() for _ in range(args.browsers)]
        fixtures = json.loads(subprocess.run([PYTHON, "-c", FIXTURES], input=json.dumps(subscriptions), env=env,
                                             cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        port = free_port()
        procs.append(Proc("web", procfile_command("web", port), env, log_dir, shell=True))
        procs.append(Proc("worker", procfile_command("worker", port), env, log_dir, shell=True))
        wait_for_port(port)
        bodies = [json.dumps({"to": fixtures["recipients"][i % args.browsers], "token": fixtures["token"],
                              "secret": fixtures["secret"], "message": f"Bench #{i}"}).encode()
                  for i in range(args.messages)]

        def run(count):
            results = asyncio.run(run_at_rate("127.0.0.1", port, "/v1/messages/send", bodies[:count], rate=args.rate,
                                              duration=count / args.rate, connections=4))
            wanted = {int(r[3]) for r in results if r[2] == 200}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                arrivals = {}
                for push in fake.script.snapshot()["pushes"]:
                    if push["answer"] == "ok" and push["payload"]["id"] in wanted:
                        arrivals.setdefault(push["payload"]["id"], push["time"])
                if len(arrivals) >= len(wanted):
                    break
                time.sleep(0.2)
            return [(arrivals[int(r[3])] - r[0]) * 1000 for r in results if r[2] == 200 and int(r[3]) in arrivals], \
                len(wanted) - len(arrivals)

        time.sleep(3)  # worker boot
        run(10)  # warm-up: connections, the VAPID token, imports
        fake.script.reset()
        values, missing = run(args.messages)
        print(json.dumps({
            "webpush_accept_to_push_ms": {"messages": len(values), "missing": missing,
                                          "p50": round(percentile(values, 0.5), 1),
                                          "p90": round(percentile(values, 0.9), 1),
                                          "p99": round(percentile(values, 0.99), 1)},
            "browsers": args.browsers, "rate_per_second": args.rate, "logs": str(log_dir),
        }, indent=2))
    finally:
        for proc in procs:
            proc.stop()
        fake.stop()


if __name__ == "__main__":
    main()
