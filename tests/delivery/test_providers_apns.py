"""The APNs provider against the local HTTP/2 server: every answer mapped, the payload rules."""

import pytest

from messaging.providers import get_provider, reset
from messaging.providers.base import Outcome, Push

TOKEN = "ab" * 32


def push(token=TOKEN, **kwargs):
    fields = dict(delivery_id=1, token=token, title="Alice's alarms", body="Door bell", badge=3, collapse_id="7",
                  data={"message_id": "7", "channel_token": "c_abc", "url": "https://example.com/x"})
    fields.update(kwargs)
    return Push(**fields)


def send_one(apns, outcomes, **kwargs):
    apns.script.set_outcomes(kwargs.get("token", TOKEN), outcomes)
    [result] = get_provider("ios").send([push(**kwargs)])
    return result


def test_it_accepts_with_the_apns_id(push_settings, apns):
    result = send_one(apns, ["ok"])
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id == apns.script.pushes[0]["headers"]["apns-id"]


@pytest.mark.parametrize("answer", ["unregistered", "bad_token", "token_not_for_topic"])
def test_a_dead_token_answer_is_invalid_token(push_settings, apns, answer):
    assert send_one(apns, [answer]).outcome is Outcome.INVALID_TOKEN


@pytest.mark.parametrize("answer", ["unavailable", "internal", "rate_limited"])
def test_a_transient_failure_is_retry(push_settings, apns, answer):
    assert send_one(apns, [answer]).outcome is Outcome.RETRY


def test_too_many_requests_carries_its_retry_after(push_settings, apns):
    assert send_one(apns, ["rate_limited:30"]).retry_after == 30


def test_a_500_without_a_body_is_answered_not_waited_for(push_settings, apns):
    push_settings.APNS_TIMEOUT = 30.0
    reset()
    result = send_one(apns, ["internal_empty"])
    assert result.outcome is Outcome.RETRY
    assert result.reason == "APNs 500 (no body)"


def test_a_dropped_connection_is_retry_and_not_resent(push_settings, apns):
    result = send_one(apns, ["drop", "ok"])
    assert result.outcome is Outcome.RETRY
    assert [p["answer"] for p in apns.script.pushes] == ["drop"]


def test_an_unanswered_push_times_out_as_retry(push_settings, apns):
    result = send_one(apns, ["hang"])
    assert result.outcome is Outcome.RETRY
    assert result.reason == "APNs timeout"


def test_a_refused_provider_token_is_retried_and_logged(push_settings, apns, fake_files, caplog):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (fake_files / "other.p8").write_bytes(other_key)
    push_settings.APNS_KEY = str(fake_files / "other.p8")
    reset()
    result = send_one(apns, ["ok"])
    assert result.outcome is Outcome.RETRY
    assert "InvalidProviderToken" in result.reason
    assert "APNS_KEY" in caplog.text


def test_a_default_message_is_an_alert_with_sound_badge_and_collapse_id(push_settings, apns):
    send_one(apns, ["ok"])
    received = apns.script.pushes[0]
    assert received["payload"] == {
        "aps": {"alert": {"title": "Alice's alarms", "body": "Door bell"}, "sound": "default", "badge": 3},
        "message_id": "7", "channel_token": "c_abc", "url": "https://example.com/x",
    }
    headers = received["headers"]
    assert (headers["apns-push-type"], headers["apns-priority"]) == ("alert", "10")
    assert headers["apns-collapse-id"] == "7"
    assert headers["apns-topic"] == "org.kilopush.app"


def test_an_important_message_is_time_sensitive(push_settings, apns):
    send_one(apns, ["ok"], important=True)
    assert apns.script.pushes[0]["payload"]["aps"]["interruption-level"] == "time-sensitive"


def test_a_silent_message_is_a_background_push(push_settings, apns):
    send_one(apns, ["ok"], important=False)
    received = apns.script.pushes[0]
    assert received["payload"]["aps"] == {"content-available": 1}
    assert (received["headers"]["apns-push-type"], received["headers"]["apns-priority"]) == ("background", "5")


def test_the_logo_is_offered_as_the_notification_image(push_settings, apns):
    send_one(apns, ["ok"], image="https://example.com/logo.png")
    payload = apns.script.pushes[0]["payload"]
    assert payload["image"] == "https://example.com/logo.png"
    assert payload["aps"]["mutable-content"] == 1


def test_a_sandbox_device_goes_to_the_sandbox_endpoint(push_settings, apns):
    send_one(apns, ["ok"], sandbox=True)
    send_one(apns, ["ok"])
    assert [p["headers"]["host"] for p in apns.script.pushes] == ["localhost", "127.0.0.1"]


def test_pushes_of_a_batch_are_concurrent_streams_on_one_connection(push_settings, apns):
    apns.script.set_default("ok", latency=0.5)
    results = get_provider("ios").send([push(token=f"{i:064x}", delivery_id=i) for i in range(10)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert apns.script.max_in_flight > 1, apns.script.snapshot()
    assert apns.script.connections == 1, apns.script.snapshot()


def test_a_title_is_the_alert_title_with_the_channel_name_as_subtitle(push_settings, apns):
    send_one(apns, ["ok"], message_title="Backup failed")
    alert = apns.script.pushes[0]["payload"]["aps"]["alert"]
    assert alert == {"title": "Backup failed", "subtitle": "Alice's alarms", "body": "Door bell"}


def test_an_attachment_sets_mutable_content_and_its_url(push_settings, apns):
    send_one(apns, ["ok"], attachment="https://kilo.example/media/attachments/b.jpg")
    payload = apns.script.pushes[0]["payload"]
    assert payload["aps"]["mutable-content"] == 1
    assert payload["attachment_url"] == "https://kilo.example/media/attachments/b.jpg"
