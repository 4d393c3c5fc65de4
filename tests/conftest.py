"""Shared fixtures: alice owns a channel, bob receives, charlie has no access to either.

The suite runs against real PostgreSQL and Redis only (see Makefile and .ci/run).
"""

import json
import os

import pytest
from django.conf import settings
from django.core.cache import cache

from channels_app.services import channel_create
from tests.people import Person, make_person  # noqa: F401 (make_person: used by the fixtures below)

# Fixtures shared by several test folders, registered once here.
pytest_plugins = ["tests.delivery_fixtures", "tests.webpush_fixtures", "tests.admin_support", "tests.chaos_support"]


# The one explicit exception: the parity suite's SQLite half (tests/parity/conftest.py) runs tests/parity, and
# nothing else, with KILOPUSH_PARITY=sqlite, DATABASE_URL=sqlite:///... and no REDIS_URL (make run's default).
PARITY = os.environ.get("KILOPUSH_PARITY", "")


def pytest_sessionstart(session):
    engine = settings.DATABASES["default"]["ENGINE"]
    if PARITY:
        if PARITY != "sqlite" or engine != "django.db.backends.sqlite3":
            raise pytest.UsageError(f"KILOPUSH_PARITY=sqlite (and nothing else) runs tests/parity on SQLite "
                                    f"(DATABASE_URL=sqlite:///...); got KILOPUSH_PARITY={PARITY!r} with {engine}")
        return
    if "postgresql" not in engine:
        raise pytest.UsageError(f"The suite needs PostgreSQL (DATABASE_URL=postgres://...), not {engine}")
    if not settings.REDIS_URL:
        raise pytest.UsageError("The suite needs Redis (REDIS_URL=redis://...)")


def pytest_collection_modifyitems(config, items):
    if PARITY:
        outside = [item.nodeid for item in items if not item.nodeid.startswith("tests/parity/")]
        if outside:
            raise pytest.UsageError(f"KILOPUSH_PARITY=sqlite runs tests/parity only, not {outside[0]}")


@pytest.fixture(autouse=True)
def _fresh_redis():
    cache.clear()  # FLUSHDB of the test Redis database: rate limits and queued tasks
    yield


@pytest.fixture(autouse=True)
def _nudges_without_linger(settings):
    """In this process, a send's nudge goes out before it answers, as with no load, so that a test counting
    queued tasks or wake-ups right after its sends is not timed by the linger. The linger itself is tested in
    tests/stream/test_stream_wake.py, and the servers the suite starts (tests/procs.py) run with the default."""
    settings.DELIVERY_NUDGE_LINGER_MS = 0


@pytest.fixture
def alice(db):
    return make_person()


@pytest.fixture
def bob(db):
    return make_person()


@pytest.fixture
def charlie(db):
    return make_person(platform="ios")


@pytest.fixture
def channel(alice):
    return channel_create(owner=alice.user, name="Alice's alarms")


@pytest.fixture
def send(client):
    """POSTs to the send API as JSON (or a form with form=True) and returns the response."""

    def _send(fields=None, *, form=False, raw=None, content_type=None, **extra):
        if raw is not None:
            body = raw
        elif form:
            from urllib.parse import urlencode

            body = urlencode(fields or {})
        else:
            body = json.dumps(fields or {})
        if content_type is None:
            content_type = "application/x-www-form-urlencoded" if form else "application/json"
        return client.generic("POST", "/v1/messages/send", body, content_type=content_type, **extra)

    return _send


@pytest.fixture
def valid_fields(bob, channel):
    return {"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "Door bell"}
