import json
import os
import subprocess
import sys

from django.conf import settings

PROBE = """
import django, json
django.setup()
from django.test import Client
response = Client().get("/healthz", HTTP_HOST="127.0.0.1")
print(json.dumps({"code": response.status_code, "body": response.json()}))
"""


def healthz_in_a_process(**env):
    """GET /healthz in a fresh process configured only by the environment, as a deployment would be."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    full_env.update(DJANGO_SETTINGS_MODULE="kilopush.settings", **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=full_env, capture_output=True, text=True, timeout=60, cwd=settings.BASE_DIR
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_reports_database_and_redis_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_it_answers_503_when_the_database_is_unreachable(tmp_path):
    result = healthz_in_a_process(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/kilopush", REDIS_URL=settings.REDIS_URL, KILOPUSH_VAR_DIR=str(tmp_path)
    )
    assert result["code"] == 503
    assert result["body"]["database"] == "error"


def test_it_reports_redis_off_in_embedded_mode(tmp_path):
    result = healthz_in_a_process(KILOPUSH_VAR_DIR=str(tmp_path))
    assert result == {"code": 200, "body": {"status": "ok", "database": "ok", "redis": "off"}}


def test_it_reports_redis_error_as_degraded(db, tmp_path):
    test_db = settings.DATABASES["default"]
    result = healthz_in_a_process(
        DATABASE_URL=f"postgres://{test_db['USER']}@{test_db['HOST']}:{test_db['PORT']}/{test_db['NAME']}", REDIS_URL="redis://127.0.0.1:1/0", KILOPUSH_VAR_DIR=str(tmp_path)
    )
    assert result == {"code": 200, "body": {"status": "degraded", "database": "ok", "redis": "error"}}
