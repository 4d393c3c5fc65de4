"""gunicorn settings for the Procfile's web process (see docs/security.md, "Abuse and fuzzing": slow clients)."""

import multiprocessing
import os
import re

from gunicorn.glogging import Logger

# Embedded mode keeps rate-limit counters in process memory: one process, many threads.
_embedded = not os.getenv("REDIS_URL")
workers = int(os.getenv("WEB_CONCURRENCY", "1" if _embedded else str(multiprocessing.cpu_count() + 1)))
threads = int(os.getenv("WEB_THREADS", "8"))
# gthread, except that a request is read in the event loop before it takes a thread:
# slow clients (slowloris) cannot tie up the threads (kilopush/gunicorn_worker.py).
worker_class = "kilopush.gunicorn_worker.BufferingThreadWorker"
# Open connections per worker process, slow ones included; beyond this, new ones wait in the backlog.
worker_connections = int(os.getenv("WEB_CONNECTIONS", "1000"))
# A worker process that stops reporting to the master for this long is killed and replaced.
timeout = int(os.getenv("WEB_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Limits on what one request line/header may hold.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-" if os.getenv("WEB_ACCESS_LOG", "") in ("1", "true") else None
_SEND_KEY = re.compile(r"k_[0-9a-fA-F]{36}([0-9a-fA-F]{4})")


class KeyMaskingLogger(Logger):
    """The access log with every send key (k_…, in a hook or ntfy path, ?token=, a header) shown as k_…abcd."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: _SEND_KEY.sub(r"k_…\1", value) if isinstance(value, str) else value
                for name, value in atoms.items()}


logger_class = KeyMaskingLogger
# The web workers' CPU priority (nice, 0-19). When the machine runs short of CPU, delivering what
# was accepted goes first and accepting slows down (backpressure), instead of the web tier taking
# the cores while the queue of accepted messages grows (docs/operations.md, "Sizing").
web_nice = int(os.getenv("WEB_NICE", "10"))


def post_fork(server, worker):
    if web_nice > 0:
        os.nice(web_nice)
        if _alone_in_session(server.pid):
            _set_autogroup_nice(web_nice)


def _parent_and_session(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[3])


def _alone_in_session(master_pid):
    """True if this session holds only the gunicorn master, its workers and the master's ancestors
    (a session of its own: systemd's unit, the Procfile's process), not a shell or the worker too."""
    try:
        session = os.getsid(0)
        ancestors, pid = set(), master_pid
        while pid > 1 and pid not in ancestors:
            ancestors.add(pid)
            pid = _parent_and_session(pid)[0]
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in ancestors:
                continue
            try:
                parent, sid = _parent_and_session(entry)
            except (OSError, ValueError, IndexError):
                continue
            if sid == session and parent != master_pid:
                return False
        return True
    except OSError:
        return False


def _set_autogroup_nice(value):
    """Linux schedules each session (autogroup) as one: a nice process yields only to its own
    session's other processes unless the session itself is nice. Best effort: no /proc, no autogroups."""
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(value))
    except OSError:
        pass


def child_exit(server, worker):
    # A gone worker's live gauges must not be summed any more (prometheus_client multiprocess mode).
    from kilopush import settings as kilopush_settings  # sets PROMETHEUS_MULTIPROC_DIR, as in the workers
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(kilopush_settings.PROMETHEUS_MULTIPROC_DIR))


def on_starting(server):
    # Configuration checks once, in the master, before any worker forks; errors stop the start.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kilopush.settings")
    import django

    django.setup()
    from kilopush.checks import run_at_startup

    run_at_startup("web")
