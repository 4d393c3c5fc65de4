"""gunicorn settings for the Procfile's web process (see README, "Serving")."""

import multiprocessing
import os

# Embedded mode keeps rate-limit counters in process memory: one process, many threads.
_embedded = not os.getenv("REDIS_URL")
workers = int(os.getenv("WEB_CONCURRENCY", "1" if _embedded else str(multiprocessing.cpu_count() * 2 + 1)))
threads = int(os.getenv("WEB_THREADS", "8" if _embedded else "1"))
worker_class = "gthread" if threads > 1 else "sync"
# A request that has not finished in this time is killed and its worker replaced.
timeout = int(os.getenv("WEB_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Limits on what one request line/header may hold.
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-" if os.getenv("WEB_ACCESS_LOG", "") in ("1", "true") else None
