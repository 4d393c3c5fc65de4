"""gunicorn settings for the Procfile's web process (see README, "Abuse and fuzzing": slow clients)."""

import multiprocessing
import os

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
# The web workers' CPU priority (nice, 0-19). When the machine runs short of CPU, delivering what
# was accepted goes first and accepting slows down (backpressure), instead of the web tier taking
# the cores while the queue of accepted messages grows (README "Sizing").
web_nice = int(os.getenv("WEB_NICE", "10"))


def post_fork(server, worker):
    if web_nice > 0:
        os.nice(web_nice)


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
