"""SECRET_KEY is never a public built-in value (issue 16, item 8). Each case runs in a fresh process."""

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from kilopush.secret_key import LEGACY_BUILTIN_KEY
from tests.procs import database_url_for

PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def env_without_key(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "REDIS_URL", "KILOPUSH_VAR_DIR")}
    env["DJANGO_SETTINGS_MODULE"] = "kilopush.settings"
    env.update(extra)
    return env


def run(args, env):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=settings.BASE_DIR)


@pytest.fixture
def postgres_env(tmp_path):
    return env_without_key(DATABASE_URL=database_url_for(), KILOPUSH_VAR_DIR=str(tmp_path / "var"))


def test_a_deployment_without_secret_key_fails_the_system_check(postgres_env):
    out = run(["manage.py", "check"], postgres_env)
    assert out.returncode != 0
    assert "kilopush.E100" in out.stderr and "SECRET_KEY is not set" in out.stderr, out.stderr


def test_a_deployment_with_the_former_built_in_key_fails_it_too(postgres_env):
    out = run(["manage.py", "check"], {**postgres_env, "SECRET_KEY": LEGACY_BUILTIN_KEY})
    assert out.returncode != 0
    assert "kilopush.E100" in out.stderr


def test_the_web_application_refuses_to_load_without_it(postgres_env):
    out = run(["-c", "import kilopush.wsgi"], postgres_env)
    assert out.returncode != 0
    assert "ImproperlyConfigured: kilopush.E100" in out.stderr, out.stderr


def test_a_deployment_with_a_key_passes(postgres_env):
    out = run(["manage.py", "check"], {**postgres_env, "SECRET_KEY": "k" * 60})
    assert out.returncode == 0, out.stderr
    assert "kilopush.E100" not in out.stderr


def test_embedded_mode_generates_a_key_once_and_keeps_it(tmp_path):
    env = env_without_key(KILOPUSH_VAR_DIR=str(tmp_path / "var"))
    first = run(["-c", PRINT_KEY], env)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50 and key != LEGACY_BUILTIN_KEY
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert run(["-c", PRINT_KEY], env).stdout.strip() == key
    assert run(["manage.py", "check"], env).returncode == 0


def test_processes_starting_together_agree_on_one_key(tmp_path):
    env = env_without_key(KILOPUSH_VAR_DIR=str(tmp_path / "var"))
    with ThreadPoolExecutor(4) as pool:
        keys = {out.stdout.strip() for out in pool.map(lambda _: run(["-c", PRINT_KEY], env), range(4))}
    assert len(keys) == 1 and "" not in keys


def test_an_embedded_database_from_before_keeps_its_key_and_says_so(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    (var / "kilopush.sqlite3").write_bytes(b"")  # made by an older version, with the built-in key
    env = env_without_key(KILOPUSH_VAR_DIR=str(var))
    assert run(["-c", PRINT_KEY], env).stdout.strip() == LEGACY_BUILTIN_KEY
    out = run(["manage.py", "check"], env)
    assert "kilopush.W100" in out.stderr, out.stderr
