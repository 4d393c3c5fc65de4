"""The bench's CPU accounting (bench/run.py): a process that ends between two readings still counts."""

import os
import subprocess
import sys

from bench.run import cpu_by_process, cpu_spent

BURN = """
import sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
burn(0.3)
print("half", flush=True)
sys.stdin.readline()
burn(0.3)
"""


def test_a_child_that_ends_between_the_readings_counts_for_what_it_used_after_the_first():
    child = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "half\n"
    roles = {"burner": [os.getpid(), child.pid]}  # a parent and its child, as the postmaster and a backend
    before = cpu_by_process(roles)
    assert before["burner"][child.pid] >= 0.3
    child.stdin.write("go\n")
    child.stdin.flush()
    assert child.wait(timeout=30) == 0  # this process waits for it: its CPU is now in our `reaped`
    after = cpu_by_process(roles)
    assert child.pid not in after["burner"]
    # Its 0.3 s after the first reading count, through its parent, and not its 0.3 s before.
    assert 0.25 <= cpu_spent(before, after, "burner") <= 0.45


def test_a_child_that_starts_and_ends_between_the_readings_counts_for_all_it_used():
    roles = {"burner": [os.getpid()]}
    before = cpu_by_process(roles)
    child = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child.communicate("go\n", timeout=30)
    after = cpu_by_process(roles)
    assert 0.6 <= cpu_spent(before, after, "burner") <= 0.9  # its two 0.3 s and its start-up


def test_a_process_that_started_and_still_runs_counts_for_all_it_used():
    before = cpu_by_process({})
    child = subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "half\n"
    after = cpu_by_process({"burner": [child.pid]})
    try:
        assert 0.3 <= cpu_spent(before, after, "burner") <= 0.6  # its start-up and its first 0.3 s
    finally:
        child.kill()
        child.wait()
