"""make bench, phase `scheduled` (issue 24): 100 messages scheduled for the same second are delivered within 3 s.

The Procfile's web, worker and beat against the real PostgreSQL and Redis and the FCM stand-in: 100
recipients with one Android phone each get a message sent with the same `at`, AHEAD seconds later. Each
message's lateness is when the stand-in received its push minus `at`. The target: every push less than
3 s late, none before `at`, none missing, none doubled.
"""

import json
import math
import threading
import time
import urllib.request

from bench.emergency import percentile, start_platform

COUNT, AHEAD, TARGET = 100, 30, 3.0  # AHEAD: room for 100 sends on a busy machine


def run(*, env, log_dir, work_dir, python, root, Proc, free_port, wait_for_port, procfile_command, start_fakes,
        control, reset_database, wait_for_answer, db_url):
    procs = []
    try:
        env, fixtures, port, controls = start_platform(
            procs, name="scheduled", count=COUNT, channel="Bench reminders", extra_env={}, env=env, log_dir=log_dir,
            work_dir=work_dir, python=python, root=root, Proc=Proc, free_port=free_port, wait_for_port=wait_for_port,
            procfile_command=procfile_command, start_fakes=start_fakes, reset_database=reset_database,
            wait_for_answer=wait_for_answer, db_url=db_url)
        at = math.ceil(time.time()) + AHEAD
        answers, accepted = [], set()

        def send(to):
            body = json.dumps({"to": to, "token": fixtures["token"], "secret": fixtures["secret"],
                               "message": "Bench: the meeting starts", "at": at}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/messages/send", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())["response"]
                answers.append(answer["status"])
                accepted.add(to)

        tokens = dict(zip(fixtures["recipients"], (f"fcm-scheduled-{i}" for i in range(COUNT))))
        threads = [threading.Thread(target=send, args=(to,)) for to in fixtures["recipients"]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent_by = time.time()
        time.sleep(max(at - time.time(), 0) + TARGET + 5)
        pushes = control(controls[:1], "/_fake/pushes")[0]["pushes"]
    finally:
        for proc in reversed(procs):
            proc.stop()
    by_token = {}
    for push in pushes:
        if push.get("answer") == "ok" and push["token"].startswith("fcm-scheduled-"):
            by_token.setdefault(push["token"], []).append(push["time"])
    lateness = sorted(min(times) - at for times in by_token.values())
    # A send the web refused (an overloaded database) is not the release's miss: only accepted ones count.
    missing = len({tokens[to] for to in accepted} - set(by_token))
    doubled = sum(len(times) - 1 for times in by_token.values())
    early = sum(1 for late in lateness if late < 0)

    result = {"scheduled": COUNT, "accepted": answers.count(200), "sent_before_at_s": round(at - sent_by, 2),
              "pushed": len(lateness), "missing": missing, "doubled": doubled, "early": early,
              "late_p50_s": percentile(lateness, 50), "late_p99_s": percentile(lateness, 99), "late_max_s": round(max(lateness), 3) if lateness else None,
              "within_target": bool(lateness) and max(lateness) < TARGET and not missing and not early}
    print(f"scheduled: {result['pushed']} of {COUNT} pushed, late p50 {result['late_p50_s']} s, p99 "
          f"{result['late_p99_s']} s, max {result['late_max_s']} s; early {early}, missing {missing}, doubled "
          f"{doubled}: {'within 3 s' if result['within_target'] else 'NOT within 3 s'}")
    return result
