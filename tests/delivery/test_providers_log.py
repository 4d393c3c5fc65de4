"""The log provider (embedded default) and how providers are chosen."""

import logging

import pytest

from messaging import providers
from messaging.providers.base import Outcome, Push, parse_retry_after
from messaging.providers.log import LogProvider


@pytest.fixture
def no_credentials(settings):
    settings.PUSH_PROVIDER_ANDROID, settings.PUSH_PROVIDER_IOS = "fcm", "apns"
    settings.FCM_CREDENTIALS = settings.APNS_KEY = settings.APNS_KEY_ID = settings.APNS_TEAM_ID = settings.APNS_TOPIC = ""
    providers.reset()
    yield settings
    providers.reset()


def test_the_log_provider_writes_the_push_and_accepts_it(caplog):
    caplog.set_level(logging.INFO, logger="kilopush.push")
    [result] = LogProvider("android").send([Push(delivery_id=1, token="tok", title="Alarms", body="Door bell", data={})])
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id.startswith("log-")
    assert "'Door bell'" in caplog.text


def test_a_provider_without_credentials_is_off_and_the_log_pushes_instead(no_credentials):
    assert isinstance(providers.get_provider("android"), LogProvider)
    assert isinstance(providers.get_provider("ios"), LogProvider)


@pytest.mark.django_db  # the generated VAPID key is read from (or stored in) the database
def test_the_startup_report_says_which_provider_is_off_and_why(no_credentials, caplog):
    lines = providers.startup_report()
    assert lines == [
        "Android pushes: fcm is off: FCM_CREDENTIALS not set; pushes are written to the log instead",
        "iOS pushes: apns is off: APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC not set; pushes are written to the log instead",
        "Web pushes: webpush",  # needs no credentials: without VAPID_PRIVATE_KEY the stored key is used
    ]
    assert caplog.records[0].levelno == logging.WARNING


def test_a_bad_vapid_key_turns_web_push_off_and_says_why(no_credentials, settings):
    settings.VAPID_PRIVATE_KEY = "not a key"
    [*_, web] = providers.startup_report()
    assert web.startswith("Web pushes: webpush is off: a valid VAPID key (VAPID_PRIVATE_KEY is not a PEM private key")
    assert isinstance(providers.get_provider("web"), LogProvider)


def test_retry_after_is_read_as_seconds_or_an_http_date():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
