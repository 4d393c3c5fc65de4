"""Fixtures for the Web Push tests: the stand-in over TLS, a VAPID key, settings that reach them."""

import pytest

from messaging import providers, vapid
from tests.fakes.webpush import FakeWebPush

__all__ = ["fake_webpush_server", "webpush", "vapid_pem", "webpush_env", "webpush_settings", "web_subscription"]


@pytest.fixture(scope="session")
def fake_webpush_server(tmp_path_factory):
    server = FakeWebPush().start()
    server.env = server.settings(tmp_path_factory.mktemp("webpush"))
    yield server
    server.stop()


@pytest.fixture
def webpush(fake_webpush_server):
    fake_webpush_server.script.reset()
    yield fake_webpush_server
    fake_webpush_server.script.reset()


@pytest.fixture(scope="session")
def vapid_pem():
    return vapid.generate_pem()


def webpush_env(server, pem):
    """The Web Push settings, as environment variables, that reach the stand-in."""
    return {"PUSH_PROVIDER_WEB": "webpush", "VAPID_PRIVATE_KEY": pem, "WEBPUSH_TIMEOUT": "1", **server.env}


@pytest.fixture
def webpush_settings(settings, webpush, vapid_pem):
    """Django settings pointing the Web Push provider at the stand-in; providers rebuilt before and after."""
    for name, value in webpush_env(webpush, vapid_pem).items():
        if name == "WEBPUSH_ENDPOINT_HOSTS":
            value = value.split(",")
        setattr(settings, name, float(value) if name.endswith("_TIMEOUT") else value)
    providers.reset()
    yield settings
    providers.reset()


@pytest.fixture
def web_subscription(webpush, vapid_pem):
    """A browser's PushSubscription.toJSON() for the server's VAPID key, from the stand-in."""

    def _subscribe(host=None):
        key = vapid.public_key_point(vapid.load_pem(vapid_pem))
        return webpush.subscribe(key, host=host).as_json()

    return _subscribe
