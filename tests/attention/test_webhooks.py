"""Issue 24, signed webhooks: the channel's webhook_url and whsec_ secret, events signed per Standard Webhooks
(verified by the real `standardwebhooks` package), at least once with the same webhook-id, the SSRF guard."""

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook

from kilopush import metrics
from messaging import queueing, webhooks
from messaging.emergency import emergencies_tick, message_acknowledge
from messaging.models import Delivery, Message, WebhookEvent
from messaging.services import inbox_mark_read, inbox_mark_read_up_to
from tests.app_api import call
from tests.attention.receiver import keep_alive_receiver, lasting_receiver, receiver  # noqa: F401 (fixtures)
from tests.helpers import status_of

pytestmark = pytest.mark.django_db


def patch(person, channel, body):
    return call(Client(), "PATCH", f"/v1/app/channels/{channel.token}", person, body)


@pytest.fixture
def hooked(alice, channel, receiver):
    response = patch(alice, channel, {"webhook_url": receiver.url})
    assert response.status_code == 200, response.content
    channel.refresh_from_db()
    return channel


def sent(response):
    assert status_of(response) == 200, response.content
    return Message.objects.get(pk=int(response.json()["response"]["id"]))


def verified(channel, request):
    """The body as the real standardwebhooks verifier reads it (raises if the signature is wrong)."""
    return Webhook(channel.webhook_secret).verify(request["body"], request["headers"])


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


# --- the channel's webhook ---


def test_setting_a_webhook_answers_its_url_and_a_standard_webhooks_secret(alice, channel, receiver):
    body = patch(alice, channel, {"webhook_url": receiver.url}).json()
    assert body["webhook_url"] == receiver.url
    assert body["webhook_secret"].startswith("whsec_")
    assert 24 <= len(base64.b64decode(body["webhook_secret"][len("whsec_"):])) <= 64
    assert call(Client(), "GET", "/v1/app/channels", alice).json()["channels"][0]["webhook_secret"] == body["webhook_secret"]


def test_null_removes_the_webhook(alice, hooked):
    body = patch(alice, hooked, {"webhook_url": None}).json()
    assert body["webhook_url"] is None


def test_a_channel_without_a_webhook_answers_nulls(alice, channel):
    body = call(Client(), "GET", "/v1/app/channels", alice).json()["channels"][0]
    assert (body["webhook_url"], body["webhook_secret"]) == (None, None)


def test_rotating_the_secret_answers_a_new_one(alice, hooked):
    old = hooked.webhook_secret
    response = call(Client(), "POST", f"/v1/app/channels/{hooked.token}/rotate-webhook-secret", alice)
    assert response.status_code == 200
    new = response.json()["webhook_secret"]
    assert new.startswith("whsec_") and new != old
    hooked.refresh_from_db()
    assert hooked.webhook_secret == new


def test_someone_elses_channel_is_404(charlie, channel, receiver):
    assert patch(charlie, channel, {"webhook_url": receiver.url}).status_code == 404
    assert call(Client(), "POST", f"/v1/app/channels/{channel.token}/rotate-webhook-secret", charlie).status_code == 404


@pytest.mark.parametrize("url", ["http://example.com/hook", "https://10.0.0.1/hook", "https://169.254.169.254/",
                                 "https://127.0.0.1/", "https://[::1]/", "ftp://example.com/", "https://localhost/x",
                                 "not a url", 12])
def test_a_url_the_guard_refuses_is_4005(alice, channel, url, settings):
    settings.WEBHOOK_ALLOW_HOSTS = ()
    response = patch(alice, channel, {"webhook_url": url})
    assert response.status_code == 400 and response.json()["response"]["status"] == 4005, response.content
    channel.refresh_from_db()
    assert channel.webhook_url == ""


# --- events ---


def test_a_delivered_push_sends_a_signed_message_delivered(hooked, receiver, push_settings, send, valid_fields):
    message = sent(send(valid_fields))
    queueing.deliver_batch(message.pk)
    assert webhooks.deliver_due() == {WebhookEvent.objects.get().pk: "delivered"}
    [request] = receiver.requests
    body = verified(hooked, request)
    assert body["type"] == "message.delivered" and body["data"] == {"id": str(message.pk)}
    assert body["timestamp"].endswith("Z")
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert WebhookEvent.objects.get().state == WebhookEvent.DELIVERED


def test_a_second_device_accepting_is_not_a_second_event(hooked, receiver, push_settings, send, valid_fields, bob):
    from users_app.models import Device

    Device.objects.create(user=bob.user, platform="ios", push_token="ab" * 32)
    message = sent(send(valid_fields))
    queueing.deliver_batch(message.pk)
    assert WebhookEvent.objects.filter(type="message.delivered").count() == 1


def test_a_signature_with_another_secret_does_not_verify(hooked, receiver, push_settings, send, valid_fields):
    from standardwebhooks.webhooks import WebhookVerificationError

    queueing.deliver_batch(sent(send(valid_fields)).pk)
    webhooks.deliver_due()
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(receiver.requests[0]["body"],
                                                                        receiver.requests[0]["headers"])


def test_a_failing_receiver_gets_the_same_webhook_id_again_after_a_backoff(hooked, receiver, push_settings, send,
                                                                           valid_fields, settings):
    receiver.answer(500)
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    assert list(webhooks.deliver_due().values()) == ["retry"]
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.QUEUED and event.last_status == 500
    assert timezone.now() < event.next_attempt_at <= later(settings.WEBHOOK_RETRY_BASE_DELAY)  # first retry <= 10 s
    assert webhooks.deliver_due() == {}  # not before its time
    assert list(webhooks.deliver_due(now=later(11)).values()) == ["delivered"]
    first, again = receiver.requests
    assert first["headers"]["webhook-id"] == again["headers"]["webhook-id"]
    verified(hooked, again)


def test_retries_grow_and_end_after_the_max_age(hooked, receiver, push_settings, send, valid_fields, settings):
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    event = WebhookEvent.objects.get()
    assert [webhooks.retry_delay(n) for n in (1, 2, 3)] == [5, 10, 20]
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=24))
    receiver.answer(503)
    assert list(webhooks.deliver_due().values()) == ["failed"]
    assert WebhookEvent.objects.get().state == WebhookEvent.FAILED


def test_a_redirect_is_not_followed_and_counts_as_a_failure(hooked, receiver, push_settings, send, valid_fields):
    receiver.answer(307, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    assert list(webhooks.deliver_due().values()) == ["retry"]
    assert WebhookEvent.objects.get().last_status == 307 and len(receiver.requests) == 1


def test_a_timeout_is_retried(hooked, receiver, push_settings, send, valid_fields, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    receiver.answer(204, delay=2)
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    assert list(webhooks.deliver_due().values()) == ["retry"]
    assert WebhookEvent.objects.get().last_error == "timeout"


def test_the_guard_runs_again_at_send_time(hooked, receiver, push_settings, send, valid_fields, settings):
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    settings.WEBHOOK_ALLOW_HOSTS = ()  # 127.0.0.1 is no longer allowed: refused when resolved, never posted
    assert list(webhooks.deliver_due().values()) == ["refused"]
    assert receiver.requests == [] and WebhookEvent.objects.get().state == WebhookEvent.FAILED


def test_a_read_sends_message_read_only_with_read_receipts(hooked, receiver, send, valid_fields, bob):
    first = sent(send(valid_fields))
    assert inbox_mark_read(user=bob.user, message_id=first.pk)
    bob.user.read_receipts = False
    bob.user.save(update_fields=["read_receipts"])
    second = sent(send(valid_fields))
    inbox_mark_read(user=bob.user, message_id=second.pk)
    assert list(WebhookEvent.objects.values_list("type", "message_id")) == [("message.read", first.pk)]


def test_read_up_to_sends_message_read_for_each(hooked, receiver, send, valid_fields, bob):
    ids = [sent(send(valid_fields)).pk for _ in range(2)]
    inbox_mark_read_up_to(user=bob.user, up_to=ids[-1])
    assert sorted(WebhookEvent.objects.filter(type="message.read").values_list("message_id", flat=True)) == ids


def test_an_acknowledgement_sends_message_acknowledged(hooked, receiver, send, valid_fields, bob):
    message = sent(send({**valid_fields, "priority": 2, "retry": 60, "expire": 600}))
    message_acknowledge(user=bob.user, message_id=message.pk)
    message_acknowledge(user=bob.user, message_id=message.pk)
    webhooks.deliver_due()
    [request] = receiver.requests
    body = verified(hooked, request)
    assert body["type"] == "message.acknowledged" and body["data"]["id"] == str(message.pk)
    assert body["data"]["acknowledged_at"].endswith("Z")


def test_an_emergency_running_out_sends_message_expired(hooked, receiver, send, valid_fields):
    message = sent(send({**valid_fields, "priority": 2, "retry": 60, "expire": 600}))
    Message.objects.filter(pk=message.pk).update(emergency_until=timezone.now() - timedelta(seconds=1))
    emergencies_tick()
    assert list(WebhookEvent.objects.values_list("type", "message_id")) == [("message.expired", message.pk)]


def test_no_device_reached_sends_message_failed(hooked, receiver, push_settings, fcm, send, valid_fields, bob):
    fcm.script.set_outcomes(bob.push_token, ["unregistered"])
    message = sent(send(valid_fields))
    queueing.deliver_batch(message.pk)
    assert list(WebhookEvent.objects.values_list("type", "message_id")) == [("message.failed", message.pk)]


def test_a_push_that_fails_after_the_acknowledgement_sends_no_message_failed(hooked, receiver, push_settings, fcm,
                                                                              send, valid_fields, bob):
    from messaging import delivery

    fcm.script.set_outcomes(bob.push_token, ["unregistered"])
    message = sent(send({**valid_fields, "priority": 2, "retry": 60, "expire": 600}))
    in_flight = delivery.claim(message.pk)  # its push is on its way when the web app acknowledges it
    message_acknowledge(user=bob.user, message_id=message.pk)
    delivery.push(in_flight, finished=queueing.after_pushes)
    assert Delivery.objects.get(message=message).state == Delivery.INVALID_TOKEN  # the dead token ended it
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["message.acknowledged"]


def test_a_channel_without_a_webhook_records_no_events(channel, push_settings, send, valid_fields, bob):
    message = sent(send(valid_fields))
    queueing.deliver_batch(message.pk)
    inbox_mark_read(user=bob.user, message_id=message.pk)
    assert not WebhookEvent.objects.exists()


def test_attempts_are_counted_in_the_metrics(hooked, receiver, push_settings, send, valid_fields):
    def count(outcome):
        return metrics.WEBHOOK_ATTEMPTS.labels(outcome)._value.get()

    before = count("retry"), count("delivered")
    receiver.answer(500)
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    webhooks.deliver_due()
    webhooks.deliver_due(now=later(11))
    assert (count("retry"), count("delivered")) == (before[0] + 1, before[1] + 1)


def test_staff_see_a_channels_webhook_attempts_in_the_admin(hooked, receiver, push_settings, send, valid_fields,
                                                            admin_client):
    receiver.answer(500)
    queueing.deliver_batch(sent(send(valid_fields)).pk)
    webhooks.deliver_due()
    page = admin_client.get(f"/admin/messaging/webhookevent/?channel_token={hooked.token}")
    assert page.status_code == 200
    assert b"message.delivered" in page.content and b"HTTP 500" in page.content


# --- a pass's throughput (issue 27) ---


def test_one_pass_delivers_more_events_than_one_claim_takes(hooked, lasting_receiver, settings):
    # Not keep_alive_receiver: its 0.3 s idle timeout ended the connection between two claims on a loaded CI machine.
    hooked.webhook_url = lasting_receiver.url
    hooked.save(update_fields=["webhook_url"])
    count = webhooks.CLAIM_SIZE + 20
    webhooks.event_record(channel_ids=[hooked.pk] * count, type=webhooks.ACTION_PRESSED,
                          message_ids=list(range(1, count + 1)), data={"action": "x"})
    outcomes = webhooks.deliver_due()
    assert list(outcomes.values()) == ["delivered"] * count
    assert WebhookEvent.objects.filter(state=WebhookEvent.DELIVERED, last_status=204, delivered_at__isnull=False,
                                       claimed_at__isnull=True).count() == count
    assert len({r["client"] for r in lasting_receiver.requests}) == 1  # one kept connection for the pass


def test_delivered_events_are_recorded_each_with_its_own_status_and_time(hooked):
    webhooks.event_record(channel_ids=[hooked.pk] * 3, type=webhooks.ACTION_PRESSED, message_ids=[1, 2, 3],
                          data={"action": "x"})
    first, second, third = WebhookEvent.objects.order_by("id")
    WebhookEvent.objects.filter(id__in=[first.id, second.id]).update(state=WebhookEvent.SENDING, claimed_at=timezone.now())
    now = timezone.now()
    # The third is not being sent (another pass's claim was lost, say): the update leaves it as it is.
    webhooks._record_delivered([(first.id, 200, now), (second.id, 204, later(1)), (third.id, 202, later(2))])
    rows = {e.id: e for e in WebhookEvent.objects.all()}
    assert (rows[first.id].state, rows[first.id].last_status, rows[first.id].delivered_at) == ("delivered", 200, now)
    assert (rows[second.id].state, rows[second.id].last_status) == ("delivered", 204)
    assert rows[second.id].delivered_at == rows[second.id].updated_at and rows[second.id].delivered_at > now
    assert rows[first.id].claimed_at is None and rows[first.id].last_error == ""
    assert (rows[third.id].state, rows[third.id].last_status, rows[third.id].delivered_at) == ("queued", None, None)


def test_a_pass_signs_each_event_with_the_channels_secret(hooked, keep_alive_receiver):
    hooked.webhook_url = keep_alive_receiver.url
    hooked.save(update_fields=["webhook_url"])
    webhooks.event_record(channel_ids=[hooked.pk] * 3, type=webhooks.ACTION_PRESSED, message_ids=[1, 2, 3],
                          data={"action": "x"})
    webhooks.deliver_due()
    assert sorted(verified(hooked, r)["data"]["id"] for r in keep_alive_receiver.requests) == ["1", "2", "3"]
