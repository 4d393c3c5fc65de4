import functools

import redis
from django.conf import settings
from django.db import connection

from kilopush.answers import JsonAnswer


@functools.cache
def redis_client():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def healthz(request):
    """GET /healthz: 200 while the database answers, 503 when it does not."""
    body = {"status": "ok", "database": "ok", "redis": "off"}
    http_status = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        body.update(status="error", database="error")
        http_status = 503
    if settings.REDIS_URL:
        try:
            redis_client().ping()
            body["redis"] = "ok"
        except Exception:
            body["redis"] = "error"
            if http_status == 200:
                body["status"] = "degraded"
    return JsonAnswer(body, status=http_status)
