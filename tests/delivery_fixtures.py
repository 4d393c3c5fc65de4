"""Fixtures for the delivery tests: the fake FCM and APNs servers and settings that point at them.

Registered for every test by tests/conftest.py (pytest_plugins).
"""

import base64
import json

import pytest
import redis
from django.conf import settings as django_settings

from messaging import providers
from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM

__all__ = ["fake_files", "fake_fcm_server", "fake_apns_server", "fcm", "apns", "push_settings", "queued_tasks",
           "fake_env"]


@pytest.fixture(scope="session")
def fake_files(tmp_path_factory):
    return tmp_path_factory.mktemp("fakes")


@pytest.fixture(scope="session")
def fake_fcm_server(fake_files):
    server = FakeFCM().start()
    server.credentials_file = server.write_credentials(fake_files / "fcm.json")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_apns_server(fake_files):
    server = FakeAPNs().start()
    server.env = server.settings(fake_files)
    # Sandbox devices go to the same server under another name, so a test can tell them apart.
    server.env["APNS_SANDBOX_ENDPOINT"] = server.url.replace("127.0.0.1", "localhost")
    yield server
    server.stop()


@pytest.fixture
def fcm(fake_fcm_server):
    fake_fcm_server.script.reset()
    yield fake_fcm_server
    fake_fcm_server.script.reset()


@pytest.fixture
def apns(fake_apns_server):
    fake_apns_server.script.reset()
    yield fake_apns_server
    fake_apns_server.script.reset()


def fake_env(fcm_server, apns_server):
    """The provider settings, as environment variables, that reach the fakes."""
    return {
        "PUSH_PROVIDER_ANDROID": "fcm",
        "PUSH_PROVIDER_IOS": "apns",
        "FCM_CREDENTIALS": fcm_server.credentials_file,
        "FCM_ENDPOINT": fcm_server.url,
        "FCM_TIMEOUT": "1",
        "APNS_TIMEOUT": "1",
        **apns_server.env,
    }


@pytest.fixture
def push_settings(settings, fcm, apns):
    """Django settings pointing both providers at the fakes; providers rebuilt before and after."""
    for name, value in fake_env(fcm, apns).items():
        setattr(settings, name, float(value) if name.endswith("_TIMEOUT") else value)
    providers.reset()
    yield settings
    providers.reset()


def queued_tasks():
    """(task name, args, eta) of every Celery message waiting in the real Redis broker."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    tasks = []
    for raw in client.lrange(django_settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1):
        message = json.loads(raw)
        headers = message["headers"]
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((headers["task"], list(args), headers.get("eta")))
    return tasks
