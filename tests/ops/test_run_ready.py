"""`make run` prints one line when the platform is ready (kilopush/ready.py), honouring PORT."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings

from tests.procs import base_env, free_port, free_port_pair, start_gunicorn


def watcher(port, **popen):
    return subprocess.Popen([sys.executable, "-m", "kilopush.ready", str(port)], cwd=settings.BASE_DIR,
                            env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def test_it_waits_for_the_web_then_prints_the_one_line(tmp_path):
    port = free_port()
    ready = watcher(port)
    try:
        time.sleep(1)
        assert ready.poll() is None  # nothing answers yet: still waiting, silent
        web = start_gunicorn(tmp_path, port=port, KILOPUSH_VAR_DIR=tmp_path / "var")
        try:
            out, _ = ready.communicate(timeout=60)
        finally:
            web.stop()
        assert ready.returncode == 0
        assert out == f"KILO.Push is running: open http://127.0.0.1:{port}/\n"
    finally:
        ready.kill()


def test_it_leaves_silently_with_its_parent(tmp_path):
    """Like make run's shell line: the watcher in the background, then `exec honcho` (here a short sleep)."""
    port = free_port()
    shell = subprocess.run(
        ["sh", "-c", f"{sys.executable} -m kilopush.ready {port} >{tmp_path}/out 2>&1 & echo $!; exec sleep 1"],
        cwd=settings.BASE_DIR, env=base_env(), capture_output=True, text=True, timeout=30)
    pid = int(shell.stdout.split()[0])
    deadline = time.monotonic() + 20
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert (tmp_path / "out").read_text() == ""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_make_run_prints_it_on_the_port_given(tmp_path):
    """The real `make run` (embedded default: SQLite and the spool under KILOPUSH_VAR_DIR)."""
    port = free_port_pair()  # the web on it, the stream on the next one
    env = base_env(KILOPUSH_VAR_DIR=tmp_path / "var", PORT=port, WEB_CONCURRENCY=1, CELERY_WORKER_CONCURRENCY=1)
    log = open(tmp_path / "make-run.log", "w+")
    run = subprocess.Popen(["make", "run"], cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)
    line = f"KILO.Push is running: open http://127.0.0.1:{port}/\n"
    try:
        deadline = time.monotonic() + 240
        while line not in (tmp_path / "make-run.log").read_text() and time.monotonic() < deadline:
            assert run.poll() is None, (tmp_path / "make-run.log").read_text()
            time.sleep(0.5)
        output = (tmp_path / "make-run.log").read_text()
        assert output.count(line) == 1, output
        assert f"\n{line}" in output  # a line of its own, not prefixed by honcho
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        log.close()
