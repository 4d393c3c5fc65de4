"""The web workers run at WEB_NICE (gunicorn_conf post_fork): short of CPU, delivery goes first."""

import os
import time

import pytest

from tests.procs import http, start_gunicorn


def nice_of(pid):
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[16])  # field 19: nice


def workers_of(master_pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == master_pid:
                found.append(int(entry))
    return found


@pytest.mark.parametrize("setting, expected", [(None, 10), ("0", 0), ("5", 5)])
def test_web_workers_run_at_web_nice_and_the_master_at_its_own(tmp_path, setting, expected):
    env = {"WEB_CONCURRENCY": 2}
    if setting is not None:
        env["WEB_NICE"] = setting
    web = start_gunicorn(tmp_path, **env)
    try:
        assert http("GET", web.url + "/healthz")[0] in (200, 503)
        deadline = time.monotonic() + 10
        while len(workers_of(web.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = set(workers_of(web.proc.pid))
        assert len(workers) == 2
        assert {nice_of(pid) for pid in workers} == {nice_of(os.getpid()) + expected}
        assert nice_of(web.proc.pid) == nice_of(os.getpid())
        # A session of its own (the Procfile's process, a systemd unit) is nice as a whole too: Linux
        # weighs sessions (autogroups) against each other before the nice of the processes inside.
        assert {autogroup_nice_of(pid) for pid in workers | {web.proc.pid}} == {expected}
    finally:
        web.kill()


def autogroup_nice_of(pid):
    return int(open(f"/proc/{pid}/autogroup").read().split()[-1])


def test_a_web_sharing_its_session_with_other_processes_leaves_the_sessions_priority_alone(tmp_path):
    web = start_gunicorn(tmp_path, shell_before="(sleep 120 &)", WEB_CONCURRENCY=2)
    try:
        deadline = time.monotonic() + 10
        while len(workers_of(web.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = set(workers_of(web.proc.pid))
        assert len(workers) == 2
        assert {nice_of(pid) for pid in workers} == {nice_of(os.getpid()) + 10}
        assert {autogroup_nice_of(pid) for pid in workers} == {0}  # the sleep (another program) is not slowed
    finally:
        web.kill()
