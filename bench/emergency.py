"""make bench, phase `emergency` (issue 24): 100 emergencies sent at once stay within one `retry` of their schedule.

The Procfile's web, worker and beat against the real PostgreSQL and Redis and the FCM stand-in: 100
recipients with one Android phone each get an emergency (retry 10 s, expire 45 s) at the same moment.
Each repeat k of a message is due at created_at + k * retry; its lateness is when the stand-in received it
minus that. The target: every repeat less than one retry late, none missing, none doubled.
"""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
import time
import urllib.request

COUNT, RETRY, EXPIRE = 100, 10, 45

# argv: how many recipients, their push tokens' prefix, the channel's name.
FIXTURES = """
import json, sys
import django
django.setup()
from users_app.services import app_user_create
from channels_app.services import channel_create, channel_set_verified
count, prefix, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
recipients = [app_user_create(platform="android", push_token=prefix + str(i))[0].token for i in range(count)]
sender, _ = app_user_create(push_token="")
channel = channel_create(owner=sender, name=name)
channel_set_verified(channel=channel, verified=True)
print(json.dumps({"recipients": recipients, "token": channel.token, "secret": channel.secret}))
"""

CREATED = """
import json, sys
import django
django.setup()
from messaging.models import Message
print(json.dumps({str(m): c.timestamp() for m, c in Message.objects.values_list("id", "created_at")}))
"""


def start_platform(procs, *, name, count, channel, extra_env, env, log_dir, work_dir, python, root, Proc, free_port,
                   wait_for_port, procfile_command, start_fakes, reset_database, wait_for_answer, db_url):
    """A fresh bench database, the stand-ins, `count` recipients (push tokens fcm-NAME-i, one Android phone each)
    and a verified channel, then the Procfile's web, worker and beat, each up; appends every process to `procs`.
    Returns (env, fixtures, web port, the stand-ins' controls). Shared with bench/scheduled.py."""
    reset_database(db_url)
    fakes, fake_settings, controls = start_fakes(env, log_dir, work_dir)
    procs += fakes
    env = {**env, **fake_settings, **extra_env}
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=root, check=True)
    fixtures = json.loads(subprocess.run([python, "-c", FIXTURES, str(count), f"fcm-{name}-", channel], env=env,
                                         cwd=root, check=True, capture_output=True, text=True
                                         ).stdout.strip().splitlines()[-1])
    port = free_port()
    for process in ("web", "worker", "beat"):
        procs.append(Proc(f"{name}-{process}", procfile_command(process, port), env, log_dir, shell=True))
    wait_for_port(port)
    wait_for_answer(f"http://127.0.0.1:{port}/healthz")
    # Both up before the clock starts: their start-up lines if they log them, else at most 20 s each.
    for process, ready in (("worker", "ready."), ("beat", "Starting")):
        deadline = time.monotonic() + 20
        while ready not in (log_dir / f"{name}-{process}.log").read_text(errors="replace") \
                and time.monotonic() < deadline:
            time.sleep(0.2)
    return env, fixtures, port, controls


def percentile(values, p):
    """The p-th percentile of sorted `values`, rounded to the millisecond (None when empty)."""
    return round(values[min(int(p / 100 * len(values)), len(values) - 1)], 3) if values else None


def run(*, env, log_dir, work_dir, python, root, Proc, free_port, wait_for_port, procfile_command, start_fakes,
        control, reset_database, wait_for_answer, db_url, count=COUNT):
    procs = []
    try:
        env, fixtures, port, controls = start_platform(
            procs, name="emergency", count=count, channel="Bench on-call", extra_env={"EMERGENCY_MIN_RETRY": str(RETRY)},
            env=env, log_dir=log_dir, work_dir=work_dir, python=python, root=root, Proc=Proc, free_port=free_port,
            wait_for_port=wait_for_port, procfile_command=procfile_command, start_fakes=start_fakes,
            reset_database=reset_database, wait_for_answer=wait_for_answer, db_url=db_url)
        answers = []

        def send(to):
            body = json.dumps({"to": to, "token": fixtures["token"], "secret": fixtures["secret"],
                               "message": "Bench: the site is down", "priority": 2, "retry": RETRY,
                               "expire": EXPIRE}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/messages/send", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(json.loads(response.read())["response"]["status"])

        # All at once: one connection each, up to 100 in flight (the bench's own threads stay few).
        with ThreadPoolExecutor(max_workers=min(count, 100)) as pool:
            list(pool.map(send, fixtures["recipients"]))
        time.sleep(EXPIRE + RETRY)
        created = json.loads(subprocess.run([python, "-c", CREATED], env=env, cwd=root, check=True,
                                             capture_output=True, text=True).stdout.strip().splitlines()[-1])
        pushes = control(controls[:1], "/_fake/pushes")[0]["pushes"]
    finally:
        for proc in reversed(procs):
            proc.stop()
    by_message = {}
    for push in pushes:
        if push.get("answer") == "ok":
            message_id = push["message"]["data"]["message_id"]
            by_message.setdefault(message_id, []).append(push["time"])
    lateness, missing, doubled = [], 0, 0
    expected_repeats = (EXPIRE - 1) // RETRY  # repeats due before expire (at 10, 20, 30, 40 s)
    for message_id, start in created.items():
        times = sorted(by_message.get(message_id, []))[1:]  # the first is the push, then the repeats
        missing += max(expected_repeats - len(times), 0)
        doubled += max(len(times) - expected_repeats, 0)
        for k, at in enumerate(times[:expected_repeats], 1):
            lateness.append(at - (start + k * RETRY))
    lateness.sort()
    result = {"emergencies": count, "accepted": answers.count(200), "retry_s": RETRY, "expire_s": EXPIRE,
              "repeats": len(lateness), "missing": missing, "doubled": doubled,
              "late_p50_s": percentile(lateness, 50), "late_p99_s": percentile(lateness, 99), "late_max_s": round(max(lateness), 3) if lateness else None,
              "within_one_retry": bool(lateness) and max(lateness) < RETRY and not missing}
    print(f"emergency: {result['repeats']} repeats of {count} emergencies, late p50 {result['late_p50_s']} s, "
          f"p99 {result['late_p99_s']} s, max {result['late_max_s']} s (retry {RETRY} s); missing {missing}, "
          f"doubled {doubled}: {'within one retry' if result['within_one_retry'] else 'NOT within one retry'}")
    return result
