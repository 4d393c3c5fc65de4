"""CELERY_WORKER_CONCURRENCY sizes the Procfile worker's pool (default: the cores)."""

import os
import subprocess
import sys

import pytest

from tests.procs import base_env

PROBE = "import django; django.setup(); from kilopush.celery import app; print(app.conf.worker_concurrency)"


@pytest.mark.parametrize("setting, expected", [(None, os.cpu_count()), ("3", 3)])
def test_the_worker_pool_size_comes_from_the_setting(tmp_path, setting, expected):
    env = base_env(KILOPUSH_VAR_DIR=tmp_path)
    if setting is not None:
        env["CELERY_WORKER_CONCURRENCY"] = setting
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) == expected
