"""Secrets at rest and the production settings."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from tests.procs import database_url_for

from channels_app.services import channel_create, channel_rotate_secret
from tests.people import make_person


def pg_dump():
    db = settings.DATABASES["default"]
    out = subprocess.run(
        ["pg_dump", "--data-only", "-h", db["HOST"], "-p", str(db["PORT"] or 5432), "-U", db["USER"], db["NAME"]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_channel_secret_or_access_token():
    alice = make_person()
    channel = channel_create(owner=alice.user, name="Alarm")
    old_secret = channel.secret
    new_secret = channel_rotate_secret(channel=channel)
    dump = pg_dump()
    assert channel.token in dump and alice.token in dump  # the dump does hold the rows
    for plaintext in (old_secret, new_secret, alice.access_token):
        assert plaintext not in dump


def test_the_secret_is_readable_back_by_its_owner(db):
    alice = make_person()
    channel = channel_create(owner=alice.user, name="Alarm")
    from channels_app.models import Channel

    stored = Channel.objects.get(pk=channel.pk)
    assert stored.secret == channel.secret
    assert len(stored.secret) == 64 and int(stored.secret, 16) >= 0
    assert stored.secret not in stored.secret_encrypted


def check_deploy(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**env, "DJANGO_SETTINGS_MODULE": "kilopush.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


def test_check_deploy_is_clean_under_the_production_settings(db):
    # The test database: the checks include "PostgreSQL is reachable" (kilopush.W011).
    production = {"DEBUG": "false", "HTTPS": "true", "SECRET_KEY": secrets.token_urlsafe(50),
                  "ALLOWED_HOSTS": "push.example.org", "DATABASE_URL": database_url_for(),
                  "MEDIA_ROOT_SHARED": "true"}  # one node (else kilopush.W030 asks for a shared store)
    out = check_deploy({**os.environ, **production})
    assert out.returncode == 0, out.stdout + out.stderr


def test_check_deploy_flags_the_embedded_defaults():
    out = check_deploy({k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "HTTPS")})
    assert out.returncode != 0
    assert "SECURE_SSL_REDIRECT" in out.stdout + out.stderr
    assert "SECRET_KEY" in out.stdout + out.stderr
