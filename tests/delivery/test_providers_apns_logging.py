"""aioapns logs a dropped or refused connection at ERROR; we retry those deliveries, so they are WARNING.
ERROR is kept for what an operator must act on (our own "APNs refused our provider token" line)."""

import logging

from messaging.providers import get_provider
from messaging.providers.base import Outcome
from tests.delivery.test_providers_apns import push, send_one


def aioapns_records(caplog):
    return [r for r in caplog.records if r.name.startswith("aioapns")]


def test_a_dropped_connection_logs_no_error(push_settings, apns, caplog):
    caplog.set_level(logging.DEBUG, logger="aioapns")
    assert send_one(apns, ["drop", "drop", "drop", "drop", "ok"]).outcome is Outcome.RETRY
    records = aioapns_records(caplog)
    assert [r for r in records if r.levelno >= logging.WARNING], "aioapns said nothing about the dropped connection"
    assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR]


def test_an_unreachable_server_logs_no_error_from_aioapns(push_settings, apns, caplog):
    from tests.procs import free_port

    push_settings.APNS_ENDPOINT = push_settings.APNS_SANDBOX_ENDPOINT = f"https://127.0.0.1:{free_port()}"
    from messaging import providers

    providers.reset()
    caplog.set_level(logging.DEBUG, logger="aioapns")
    [result] = get_provider("ios").send([push()])
    assert result.outcome is Outcome.RETRY
    records = aioapns_records(caplog)
    assert any("connect" in r.getMessage().lower() for r in records if r.levelno == logging.WARNING)
    assert not [r.getMessage() for r in records if r.levelno >= logging.ERROR]


def test_our_own_error_for_a_refused_provider_token_stays_an_error(push_settings, apns, caplog):
    assert send_one(apns, ["provider_token"]).outcome is Outcome.RETRY
    assert any(r.levelno == logging.ERROR and r.name == "messaging.providers.apns" for r in caplog.records)
