"""The bench's Proc.stop (bench/run.py): it returns once the whole tree is gone, not only the shell."""

import os
import signal
import sys
import time

from bench.run import Proc, _alive

# The server's stand-in: it takes half a second to finish after SIGTERM, as a web finishing its requests.
SLOW_TO_STOP = """
import os, signal, sys, time
def stop(*_):
    time.sleep(0.5)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(60)
"""


def test_stop_waits_for_a_server_the_shell_started_to_finish(tmp_path):
    script, pid_file = tmp_path / "server.py", tmp_path / "server.pid"
    script.write_text(SLOW_TO_STOP)
    # `; true` keeps the shell as the server's parent: it ends at once on SIGTERM, before the server does.
    proc = Proc("slow", f"{sys.executable} {script} {pid_file}; true", {}, tmp_path, shell=True)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    server = int(pid_file.read_text())
    assert _alive(server)
    started = time.monotonic()
    try:
        proc.stop()
        assert not _alive(server)
        assert time.monotonic() - started >= 0.4  # it waited for the server's own shutdown
    finally:
        if _alive(server):
            os.kill(server, signal.SIGKILL)
