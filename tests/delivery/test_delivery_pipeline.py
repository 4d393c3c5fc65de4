"""The pipeline in-process (claim, push through the fakes, record), against the real PostgreSQL and Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import delivery, queueing
from messaging.models import Delivery, Message
from tests.delivery_fixtures import queued_tasks
from tests.people import make_person
from users_app.models import Device


@pytest.fixture
def post(send, channel):
    def _post(person, message="Door bell", **fields):
        body = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": message, **fields}
        response = send(body)
        assert response.status_code == 200, response.content
        return Message.objects.get(pk=int(response.json()["response"]["id"]))

    return _post


@pytest.fixture
def ios_person(db):
    return make_person(platform="ios", push_token="cd" * 32)


def only_delivery(message):
    return Delivery.objects.get(message=message)


def test_an_accepted_push_is_recorded_with_the_provider_id(push_settings, fcm, bob, post):
    message = post(bob)
    queueing.deliver_batch(message.pk)
    row = only_delivery(message)
    assert row.state == Delivery.ACCEPTED
    assert row.attempts == 1
    assert row.provider_message_id.startswith("projects/kilopush-fake/messages/")


def test_an_accepted_delivery_is_never_pushed_again(push_settings, fcm, bob, post):
    message = post(bob)
    queueing.deliver_batch(message.pk)
    Delivery.objects.filter(message=message).update(next_attempt_at=None)
    queueing.deliver_batch(message.pk)
    assert len(fcm.script.pushes) == 1


def test_a_delivery_claimed_by_another_worker_is_left_alone(push_settings, fcm, bob, post):
    message = post(bob)
    Delivery.objects.filter(message=message).update(state=Delivery.SENDING, claimed_at=timezone.now())
    queueing.deliver_batch(message.pk)
    assert fcm.script.pushes == []


def test_a_dead_token_deactivates_the_device_with_the_reason(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["unregistered"])
    message = post(bob)
    queueing.deliver_batch(message.pk)
    device = Device.objects.get(user=bob.user)
    assert only_delivery(message).state == Delivery.INVALID_TOKEN
    assert not device.is_active
    assert "UNREGISTERED" in device.deactivation_reason
    assert device.deactivated_at is not None


def test_a_dead_token_is_not_pushed_to_again_by_deliveries_already_queued(push_settings, fcm, bob, post):
    push_settings.DELIVERY_BATCH_SIZE = 1
    fcm.script.set_outcomes(bob.push_token, ["unregistered"])
    first, second = post(bob), post(bob)
    queueing.deliver_batch(first.pk)
    queueing.deliver_batch(second.pk)
    assert len(fcm.script.pushes) == 1
    assert only_delivery(second).state == Delivery.INVALID_TOKEN


def test_a_retired_device_gets_no_delivery_for_new_messages(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["unregistered"])
    queueing.deliver_batch(post(bob).pk)
    later = post(bob)
    assert not Delivery.objects.filter(message=later).exists()
    assert not later.had_devices


def test_an_inactive_device_gets_no_push(push_settings, fcm, bob, post):
    message = post(bob)
    Device.objects.filter(user=bob.user).update(is_active=False, deactivation_reason="APNs 410 Unregistered")
    queueing.deliver_batch(message.pk)
    assert fcm.script.pushes == []
    assert only_delivery(message).state == Delivery.INVALID_TOKEN


def test_a_fresh_token_is_not_retired_by_an_answer_about_the_old_one(db, bob):
    device = Device.objects.get(user=bob.user)
    Device.objects.filter(pk=device.pk).update(push_token="fcm-fresh")
    assert not delivery.retire_token(device=device, push_token=bob.push_token, reason="FCM 404 UNREGISTERED")
    assert Device.objects.get(pk=device.pk).is_active


def test_a_transient_error_is_queued_again_after_the_backoff(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["unavailable"])
    message = post(bob)
    before = timezone.now()
    queueing.deliver_batch(message.pk)
    row = only_delivery(message)
    assert (row.state, row.attempts) == (Delivery.QUEUED, 1)
    assert "UNAVAILABLE" in row.last_error
    assert before + timedelta(seconds=5) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=5)


def test_a_retry_waits_at_least_the_retry_after(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["rate_limited:600"])
    message = post(bob)
    before = timezone.now()
    queueing.deliver_batch(message.pk)
    assert only_delivery(message).next_attempt_at >= before + timedelta(seconds=600)


def test_the_backoff_doubles_per_attempt_up_to_its_cap(settings):
    settings.DELIVERY_RETRY_BASE_DELAY, settings.DELIVERY_RETRY_MAX_DELAY = 5, 3600
    assert [delivery.retry_delay(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert delivery.retry_delay(20) == 3600
    assert delivery.retry_delay(1, retry_after=7200) == 7200


def test_a_delivery_still_failing_after_24_hours_expires(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["unavailable"])
    message = post(bob)
    Delivery.objects.filter(message=message).update(created_at=timezone.now() - timedelta(hours=23, minutes=59, seconds=58))
    queueing.deliver_batch(message.pk)
    row = only_delivery(message)
    assert row.state == Delivery.EXPIRED
    assert row.next_attempt_at is None


def test_a_rejected_push_is_recorded_and_not_retried(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["invalid_argument"])
    message = post(bob)
    queueing.deliver_batch(message.pk)
    row = only_delivery(message)
    assert row.state == Delivery.REJECTED
    assert "INVALID_ARGUMENT" in row.last_error
    assert Device.objects.get(user=bob.user).is_active


def test_a_short_retry_is_queued_as_a_countdown(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["unavailable"])
    message = post(bob)
    queueing.deliver_batch(message.pk)
    [(name, args, eta)] = queued_tasks()
    assert (name, args) == ("messaging.tasks.deliver_message", [message.pk])
    assert eta is not None


def test_a_long_retry_waits_in_the_row_not_in_the_broker(push_settings, fcm, bob, post):
    fcm.script.set_outcomes(bob.push_token, ["rate_limited:3600"])
    message = post(bob)
    queueing.deliver_batch(message.pk)
    assert queued_tasks() == []
    assert only_delivery(message).state == Delivery.QUEUED


def test_one_task_pushes_the_due_deliveries_of_other_messages_too(push_settings, fcm, apns, bob, ios_person, post):
    messages = [post(bob), post(ios_person), post(bob)]
    queueing.deliver_batch(messages[1].pk)
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.ACCEPTED}
    assert len(fcm.script.pushes) == 2 and len(apns.script.pushes) == 1


def test_the_batch_takes_its_own_message_first(push_settings, fcm, bob, post, settings):
    settings.DELIVERY_BATCH_SIZE = 1
    first, second = post(bob), post(bob)
    queueing.deliver_batch(second.pk)
    assert [p["message"]["data"]["message_id"] for p in fcm.script.pushes] == [str(second.pk), str(first.pk)]


def test_the_ios_badge_is_the_unread_count(push_settings, apns, ios_person, post):
    post(ios_person)
    read = post(ios_person)
    Message.objects.filter(pk=read.pk).update(read_at=timezone.now())
    message = post(ios_person)
    Delivery.objects.exclude(message=message).update(state=Delivery.ACCEPTED)
    queueing.deliver_batch(message.pk)
    assert apns.script.pushes[0]["payload"]["aps"]["badge"] == 2


def test_the_title_is_the_channel_name_and_the_data_carries_ids(push_settings, fcm, bob, post, channel):
    message = post(bob, message="Hello 👋", url="https://example.com/door")
    queueing.deliver_batch(message.pk)
    sent = fcm.script.pushes[0]["message"]
    assert sent["notification"]["title"] == channel.name
    assert sent["notification"]["body"] == "Hello 👋"
    assert sent["data"] == {"message_id": str(message.pk), "channel_token": channel.token,
                            "url": "https://example.com/door"}


def test_the_channel_logo_is_the_notification_image(push_settings, fcm, bob, post, channel):
    push_settings.SITE_URL = "https://push.example.com"
    channel.logo.name = "logos/alarm.png"
    channel.save(update_fields=["logo"])
    message = post(bob)
    queueing.deliver_batch(message.pk)
    assert fcm.script.pushes[0]["message"]["notification"]["image"] == "https://push.example.com/media/logos/alarm.png"


def test_the_claim_loads_a_batch_with_its_devices_messages_and_channels_in_its_one_statement(
        push_settings, fcm, apns, bob, ios_person, post):
    """The claim's statement returns what the pipeline reads (_LOADED): pushing and recording the batch
    loads no field afterwards (a deferred field would cost a query per delivery)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = post(bob, url="https://example.com/door", important=1)
    post(ios_person, ttl=600)
    with CaptureQueriesContext(connection) as queries:
        queueing.deliver_batch(first.pk)
    reads = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
             and any(table in q["sql"] for table in ("users_app_device", "channels_app_channel"))]
    assert len(reads) == 1 and "FOR UPDATE SKIP LOCKED" in reads[0], reads
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.ACCEPTED}
    [android] = fcm.script.accepted(bob.push_token)
    assert android["message"]["data"]["url"] == "https://example.com/door"
    assert android["message"]["android"]["notification"]["channel_id"] == "important"
    [ios] = apns.script.accepted("cd" * 32)
    assert ios["payload"]["aps"]["badge"] == 1
    assert 590 < int(ios["headers"]["apns-expiration"]) - int(timezone.now().timestamp()) <= 600


def test_a_late_answer_is_not_recorded_over_a_newer_claim(push_settings, fcm, bob, ios_person, post):
    """record() writes only to rows still held by its claim: a worker that lost its claim (the sweep gave
    the delivery to another) must not overwrite the newer attempt."""
    from messaging.providers.base import Result

    lost, kept = post(bob), post(ios_person)
    claimed = delivery.claim(lost.pk)
    assert len(claimed) == 2
    newer = timezone.now() + timedelta(seconds=1)
    Delivery.objects.filter(message=lost).update(claimed_at=newer)  # re-queued by the sweep and claimed again
    delivery.record(claimed, {d.pk: Result.accepted(f"id-{d.pk}") for d in claimed})
    lost_row, kept_row = only_delivery(lost), only_delivery(kept)
    assert (lost_row.state, lost_row.claimed_at, lost_row.provider_message_id) == (Delivery.SENDING, newer, "")
    assert (kept_row.state, kept_row.provider_message_id) == (Delivery.ACCEPTED, f"id-{kept_row.pk}")


def test_no_init_signal_receiver_is_skipped_by_the_claims_loading():
    """delivery._instance builds claimed rows without Model.__init__: a pre/post_init receiver on these
    models (an ImageField with width_field, say) would silently not run. Add one, and load them with from_db."""
    from django.db.models import signals

    from channels_app.models import Channel

    for model in (Delivery, Device, Message, Channel):
        assert not signals.pre_init.has_listeners(model) and not signals.post_init.has_listeners(model), model
