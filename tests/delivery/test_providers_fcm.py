"""The FCM provider against the local FCM v1 server: every answer mapped, the payload rules."""

import json

import pytest

from messaging.providers import get_provider
from messaging.providers.base import Outcome, Push


def push(token="fcm-token-1", **kwargs):
    fields = dict(delivery_id=1, token=token, title="Alice's alarms", body="Door bell",
                  data={"message_id": "7", "channel_token": "c_abc", "url": "https://example.com/x"})
    fields.update(kwargs)
    return Push(**fields)


def send_one(fcm, outcomes, **kwargs):
    fcm.script.set_outcomes("fcm-token-1", outcomes)
    [result] = get_provider("android").send([push(**kwargs)])
    return result


def test_it_accepts_with_the_fcm_message_name(push_settings, fcm):
    result = send_one(fcm, ["ok"])
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id.startswith("projects/kilopush-fake/messages/")


@pytest.mark.parametrize("answer", ["unregistered", "bad_token", "sender_id_mismatch"])
def test_a_dead_token_answer_is_invalid_token(push_settings, fcm, answer):
    assert send_one(fcm, [answer]).outcome is Outcome.INVALID_TOKEN


def test_invalid_argument_not_about_the_token_is_rejected(push_settings, fcm):
    result = send_one(fcm, ["invalid_argument"])
    assert result.outcome is Outcome.REJECTED
    assert "INVALID_ARGUMENT" in result.reason


@pytest.mark.parametrize("answer", ["unavailable", "internal", "internal_empty", "drop"])
def test_a_transient_failure_is_retry(push_settings, fcm, answer):
    assert send_one(fcm, [answer]).outcome is Outcome.RETRY


def test_a_transient_failure_is_not_retried_inside_the_call(push_settings, fcm):
    send_one(fcm, ["unavailable", "ok"])
    assert [p["answer"] for p in fcm.script.pushes] == ["unavailable"]


def test_quota_exceeded_retries_after_its_retry_after(push_settings, fcm):
    result = send_one(fcm, ["rate_limited:120"])
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 120


def test_quota_exceeded_without_retry_after_waits_a_minute(push_settings, fcm):
    assert send_one(fcm, ["rate_limited"]).retry_after == 60


def test_an_unanswered_request_times_out_as_retry(push_settings, fcm):
    result = send_one(fcm, ["hang"])
    assert result.outcome is Outcome.RETRY
    assert "timeout" in result.reason


def test_it_gets_one_oauth_token_from_the_token_uri_for_many_pushes(push_settings, fcm):
    before = fcm.token_requests
    results = get_provider("android").send([push(delivery_id=i) for i in range(20)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert fcm.token_requests - before == 1


def test_a_401_renews_the_token_once_and_posts_again(push_settings, fcm):
    send_one(fcm, ["ok"])  # the provider holds a token now
    before = fcm.token_requests
    fcm.script.set_outcomes("fcm-token-1", ["provider_token", "ok"])
    fcm.script.set_outcomes("fcm-token-2", ["provider_token", "ok"])
    results = get_provider("android").send([push(), push(delivery_id=2, token="fcm-token-2")])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert fcm.token_requests - before == 1  # two 401s on the same token: one renewal
    assert [p["answer"] for p in fcm.script.pushes if p["token"] == "fcm-token-1"][-2:] == ["provider_token", "ok"]


def test_a_401_after_renewing_is_retried_later_not_looped(push_settings, fcm):
    result = send_one(fcm, ["provider_token", "provider_token", "ok"])
    assert result.outcome is Outcome.RETRY
    assert [p["answer"] for p in fcm.script.pushes] == ["provider_token", "provider_token"]


def test_refused_credentials_are_retried_and_logged(push_settings, fcm, fake_files, caplog):
    from tests.fakes.fcm import FakeFCM

    stranger = FakeFCM()  # same token_uri, another key: the fake's token endpoint refuses the assertion
    credentials = stranger.credentials()
    credentials["token_uri"] = fcm.token_uri
    path = fake_files / "wrong-key.json"
    path.write_text(json.dumps(credentials))
    push_settings.FCM_CREDENTIALS = str(path)
    from messaging import providers

    providers.reset()
    result = send_one(fcm, ["ok"])
    assert result.outcome is Outcome.RETRY
    assert "access token" in caplog.text


def test_pushes_of_a_batch_go_out_concurrently_over_reused_connections(push_settings, fcm):
    fcm.script.set_default("ok", latency=0.2)
    provider = get_provider("android")
    provider.send([push(delivery_id=i) for i in range(8)])
    connections = fcm.script.connections
    provider.send([push(delivery_id=i) for i in range(8)])
    assert fcm.script.max_in_flight > 1
    assert fcm.script.connections == connections


def test_a_default_message_is_a_high_priority_alert_on_the_default_channel(push_settings, fcm):
    send_one(fcm, ["ok"], image="https://example.com/logo.png")
    message = fcm.script.pushes[0]["message"]
    assert message["notification"] == {"title": "Alice's alarms", "body": "Door bell",
                                       "image": "https://example.com/logo.png"}
    assert message["android"] == {"priority": "HIGH", "notification": {"channel_id": "default", "sound": "default"}}
    assert message["data"] == {"message_id": "7", "channel_token": "c_abc", "url": "https://example.com/x"}


def test_an_important_message_uses_the_important_channel(push_settings, fcm):
    send_one(fcm, ["ok"], important=True)
    android = fcm.script.pushes[0]["message"]["android"]
    assert android["priority"] == "HIGH"
    assert android["notification"]["channel_id"] == "important"


def test_a_notification_is_tagged_with_its_collapse_id_so_a_resend_replaces_it(push_settings, fcm):
    send_one(fcm, ["ok"], collapse_id="7")
    assert fcm.script.pushes[0]["message"]["android"]["notification"]["tag"] == "7"


def test_a_silent_message_is_data_only_with_normal_priority(push_settings, fcm):
    send_one(fcm, ["ok"], important=False)
    message = fcm.script.pushes[0]["message"]
    assert "notification" not in message
    assert message["android"] == {"priority": "NORMAL"}
    assert message["data"]["title"] == "Alice's alarms"
    assert message["data"]["message_id"] == "7"


def test_a_title_is_the_notification_title_and_the_channel_name_its_source(push_settings, fcm):
    send_one(fcm, ["ok"], message_title="Backup failed")
    message = fcm.script.pushes[0]["message"]
    assert (message["notification"]["title"], message["notification"]["body"]) == ("Backup failed", "Door bell")
    assert message["data"]["channel_name"] == "Alice's alarms"


def test_without_a_title_the_channel_name_is_the_title_and_nothing_is_added(push_settings, fcm):
    send_one(fcm, ["ok"])
    message = fcm.script.pushes[0]["message"]
    assert message["notification"]["title"] == "Alice's alarms"
    assert "channel_name" not in message["data"]


def test_an_attachment_is_the_notification_image_instead_of_the_logo(push_settings, fcm):
    send_one(fcm, ["ok"], image="https://kilo.example/media/logos/a.png",
             attachment="https://kilo.example/media/attachments/b.jpg")
    message = fcm.script.pushes[0]["message"]
    assert message["notification"]["image"] == "https://kilo.example/media/attachments/b.jpg"
    assert message["data"]["attachment_url"] == "https://kilo.example/media/attachments/b.jpg"
