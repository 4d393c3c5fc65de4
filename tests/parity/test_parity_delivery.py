"""The delivery claim and record on both backends: PostgreSQL's one statement each (messaging/delivery.py
_CLAIM_PG_SQL, _RECORD_PG_SQL) against the portable claim and the batched UPDATE of SQLite."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from channels_app.models import Channel
from messaging import delivery, queueing
from messaging.models import Delivery, Message, WebhookEvent
from messaging.providers.base import Result
from tests.people import make_person
from users_app.models import Device

pytestmark = pytest.mark.django_db


def queue(person, channel, **fields):
    """A message to `person` with one queued push per device of theirs; returns its deliveries' ids."""
    message = Message.objects.create(recipient=person.user, channel=channel, text=fields.pop("text", "Door bell"),
                                     **fields)
    return [Delivery.objects.create(message=message, device=device).pk for device in person.user.devices.all()]


def rows(*columns, **filters):
    return list(Delivery.objects.filter(**filters).order_by("id").values_list("id", *columns))


def ids(deliveries):
    return [d.pk for d in deliveries]


# --- claim ---


def test_a_claim_takes_the_due_deliveries_marks_them_sending_and_counts_an_attempt(bob, channel):
    [first] = queue(bob, channel)
    now = timezone.now()
    claimed = delivery.claim(None, now=now)
    assert ids(claimed) == [first]
    assert rows("state", "attempts", "claimed_at", "updated_at") == [(first, Delivery.SENDING, 1, now, now)]
    assert (claimed[0].state, claimed[0].attempts, claimed[0].claimed_at) == (Delivery.SENDING, 1, now)


def test_a_claim_takes_its_messages_deliveries_first_then_the_oldest_others(channel):
    people = [make_person() for _ in range(5)]
    older = [queue(person, channel)[0] for person in people[:4]]
    [own] = queue(people[4], channel)
    message = Delivery.objects.get(pk=own).message_id
    claimed = delivery.claim(message, limit=3)
    assert ids(claimed) == [older[0], older[1], own]  # in id order
    assert ids(delivery.claim(None, limit=10)) == older[2:]


def test_the_oldest_due_delivery_goes_first_whether_or_not_it_was_retried(channel):
    people = [make_person() for _ in range(3)]
    retried, fresh, newest = (queue(person, channel)[0] for person in people)
    Delivery.objects.filter(pk=retried).update(next_attempt_at=timezone.now() - timedelta(seconds=5))
    assert ids(delivery.claim(None, limit=1)) == [retried]
    assert ids(delivery.claim(None, limit=1)) == [fresh]
    assert ids(delivery.claim(None, limit=1)) == [newest]


def test_a_claimed_delivery_is_not_claimed_again(bob, channel):
    [first] = queue(bob, channel)
    message = Delivery.objects.get(pk=first).message_id
    assert ids(delivery.claim(message)) == [first]
    assert delivery.claim(message) == []
    assert delivery.claim(None) == []
    assert rows("attempts") == [(first, 1)]


def test_a_retry_is_claimed_once_its_time_has_come(bob, channel):
    [first] = queue(bob, channel)
    later = timezone.now() + timedelta(seconds=30)
    Delivery.objects.filter(pk=first).update(next_attempt_at=later)
    assert delivery.claim(None) == []
    assert delivery.claim(None, now=later - timedelta(microseconds=1)) == []
    assert ids(delivery.claim(None, now=later)) == [first]


@pytest.mark.parametrize("state", [Delivery.ACCEPTED, Delivery.INVALID_TOKEN, Delivery.REJECTED, Delivery.EXPIRED,
                                   Delivery.CANCELLED, Delivery.SENDING])
def test_a_delivery_that_is_not_queued_is_never_claimed(bob, channel, state):
    [first] = queue(bob, channel)
    Delivery.objects.filter(pk=first).update(state=state)
    assert delivery.claim(Delivery.objects.get(pk=first).message_id) == []


def test_a_claim_loads_the_delivery_its_device_message_and_channel_as_stored(bob, channel):
    Channel.objects.filter(pk=channel.pk).update(webhook_url="https://hooks.example/kilo", is_verified=True)
    device = bob.user.devices.get()
    Device.objects.filter(pk=device.pk).update(sandbox=True, deactivation_reason="")
    expires = timezone.now() + timedelta(hours=1)
    queue(bob, channel, title="Front door", url="https://example.com/cam", important=True, expires_at=expires,
          collapse_id="door", priority=1, actions='[{"type":"view","label":"Open","url":"https://example.com"}]',
          format=Message.MARKDOWN, text="**Ring**")
    [claimed] = delivery.claim(None)
    for model, instance in ((Delivery, claimed), (Device, claimed.device), (Message, claimed.message),
                            (Channel, claimed.message.channel)):
        fresh = model.objects.get(pk=instance.pk)
        for name in delivery._LOADED[model]:
            field = model._meta.get_field(name)
            assert getattr(instance, field.attname) == getattr(fresh, field.attname), (model.__name__, name)
    push = delivery.render(claimed, badge=1)
    assert (push.title, push.body, push.message_title, push.collapse_id, push.sandbox) == (
        channel.name, "Ring", "Front door", "door", True)


def test_two_claimers_at_once_share_the_deliveries_and_never_take_one_twice(transactional_db, channel):
    people = [make_person() for _ in range(12)]
    queued = [queue(person, channel)[0] for person in people]
    start = threading.Barrier(2)
    taken = {}

    def claimer(name):
        try:
            start.wait(10)
            taken[name] = ids(delivery.claim(None, limit=len(queued)))
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(taken) == {"a", "b"}
    assert not set(taken["a"]) & set(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == queued
    assert rows("state", "attempts") == [(pk, Delivery.SENDING, 1) for pk in queued]


def test_a_claim_the_worker_lost_is_queued_again_by_the_sweep_and_claimed_anew(bob, channel, settings):
    [first] = queue(bob, channel)
    lost = delivery.claim(None, now=timezone.now() - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT + 1))
    assert delivery.claim(None) == []  # still held
    assert queueing.sweep() == [lost[0].message_id]
    assert rows("state", "next_attempt_at") == [(first, Delivery.QUEUED, None)]
    again = delivery.claim(None)
    assert (ids(again), again[0].attempts) == ([first], 2)
    # The lost worker's late answer is not recorded over the new claim; the new one's is.
    delivery.record(lost, {first: Result.rejected("late")})
    assert rows("state", "last_error") == [(first, Delivery.SENDING, "worker lost during the attempt")]
    delivery.record(again, {first: Result.accepted("fcm-2")})
    assert rows("state", "provider_message_id", "attempts") == [(first, Delivery.ACCEPTED, "fcm-2", 2)]


def test_a_renewed_claim_is_left_by_the_sweep_and_still_recorded(bob, channel, settings):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None, now=timezone.now() - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT + 1))
    renewed_at = timezone.now()
    delivery.renew_claims(claimed, now=renewed_at)
    assert rows("claimed_at") == [(first, renewed_at)]
    assert queueing.sweep() == []
    delivery.record(claimed, {first: Result.accepted("fcm-1")})
    assert rows("state") == [(first, Delivery.ACCEPTED)]


def test_a_claim_the_sweep_took_back_is_not_renewed(bob, channel, settings):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None, now=timezone.now() - timedelta(seconds=settings.DELIVERY_CLAIM_TIMEOUT + 1))
    lost_at = claimed[0].claimed_at
    queueing.sweep()
    delivery.renew_claims(claimed)
    assert rows("state", "claimed_at") == [(first, Delivery.QUEUED, lost_at)]


def test_a_claimed_push_whose_message_ran_out_of_time_is_recorded_expired_without_a_push(bob, channel):
    [first] = queue(bob, channel, expires_at=timezone.now() + timedelta(seconds=30))
    Message.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    claimed = delivery.claim(None)
    assert delivery.push(claimed)[first]["state"] == Delivery.EXPIRED
    assert rows("state", "provider_message_id") == [(first, Delivery.EXPIRED, "")]


@pytest.mark.parametrize("kind", [Delivery.WITHDRAW, Delivery.DISMISS])
def test_a_withdraw_or_dismiss_push_is_claimed_and_rendered_as_data_only(bob, channel, kind):
    """After the sender's withdraw, or the recipient's acknowledgement, the device that showed it removes it."""
    from messaging.emergency import message_acknowledge
    from messaging.services import message_withdraw

    [first] = queue(bob, channel)
    delivery.record(delivery.claim(None), {first: Result.accepted("a")})
    message_id = Delivery.objects.get(pk=first).message_id
    if kind == Delivery.WITHDRAW:
        assert message_withdraw(channel_id=channel.pk, message_id=message_id)
    else:
        assert message_acknowledge(user=bob.user, message_id=message_id)
    [claimed] = delivery.claim(message_id)
    assert (claimed.kind, claimed.device_id, claimed.message_id) == (kind, bob.user.devices.get().pk, message_id)
    push = delivery.render(claimed)
    assert (push.data, push.data_only, push.token) == ({"type": kind, "message_id": str(message_id)}, True,
                                                       bob.push_token)


def test_a_claim_made_on_a_whole_second_is_recorded(bob, channel):
    # SQLite keeps a datetime as text: a whole second has no fraction; the record must match it all the same.
    [first] = queue(bob, channel)
    claimed = delivery.claim(None, now=timezone.now().replace(microsecond=0))
    delivery.record(claimed, {first: Result.accepted("a")})
    assert rows("state") == [(first, Delivery.ACCEPTED)]


# --- record ---


def test_an_accepted_push_is_recorded_with_the_providers_id(bob, channel):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None)
    now = timezone.now()
    changes = delivery.record(claimed, {first: Result.accepted("projects/p/messages/1")}, now=now)
    assert changes[first]["state"] == Delivery.ACCEPTED
    assert rows("state", "provider_message_id", "last_error", "next_attempt_at", "updated_at") == [
        (first, Delivery.ACCEPTED, "projects/p/messages/1", "", None, now)]


def test_a_transient_failure_is_queued_again_at_its_backoff_and_claimed_then(bob, channel, settings):
    settings.DELIVERY_RETRY_BASE_DELAY = 5.0
    [first] = queue(bob, channel)
    claimed = delivery.claim(None)
    now = timezone.now()
    delivery.record(claimed, {first: Result.retry("503 UNAVAILABLE", after=12.5)}, now=now)
    due_at = now + timedelta(seconds=12.5)  # Retry-After beats the first backoff (5 s)
    assert rows("state", "last_error", "next_attempt_at") == [(first, Delivery.QUEUED, "503 UNAVAILABLE", due_at)]
    assert delivery.claim(None, now=due_at - timedelta(seconds=1)) == []
    again = delivery.claim(None, now=due_at)
    assert (ids(again), again[0].attempts) == ([first], 2)
    delivery.record(again, {first: Result.retry("503 UNAVAILABLE")}, now=due_at)
    assert rows("next_attempt_at") == [(first, due_at + timedelta(seconds=10))]  # the second backoff: 5 s doubled


def test_a_failure_past_the_deliverys_age_or_its_messages_ttl_expires(channel, settings):
    late, short = make_person(), make_person()
    [old] = queue(late, channel)
    [ttl] = queue(short, channel, expires_at=timezone.now() + timedelta(seconds=2))
    Delivery.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(seconds=settings.DELIVERY_MAX_AGE))
    claimed = delivery.claim(None)
    delivery.record(claimed, {old: Result.retry("timeout"), ttl: Result.retry("timeout")})
    assert rows("state", "last_error", "next_attempt_at") == [(old, Delivery.EXPIRED, "timeout", None),
                                                              (ttl, Delivery.EXPIRED, "timeout", None)]


def test_a_rejected_push_is_final(bob, channel):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None)
    delivery.record(claimed, {first: Result.rejected("INVALID_ARGUMENT")})
    assert rows("state", "last_error", "next_attempt_at") == [(first, Delivery.REJECTED, "INVALID_ARGUMENT", None)]
    assert delivery.claim(None) == []


def test_a_dead_token_deactivates_its_device_with_the_providers_reason(bob, channel):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None)
    now = timezone.now()
    delivery.record(claimed, {first: Result.invalid_token("UNREGISTERED")}, now=now)
    assert rows("state", "last_error") == [(first, Delivery.INVALID_TOKEN, "UNREGISTERED")]
    device = bob.user.devices.get()
    assert (device.is_active, device.deactivated_at, device.deactivation_reason) == (False, now, "UNREGISTERED")


def test_a_device_that_registered_a_fresh_token_meanwhile_stays_active(bob, channel):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None)
    Device.objects.filter(user=bob.user).update(push_token="fcm-fresh")
    delivery.record(claimed, {first: Result.invalid_token("UNREGISTERED")})
    assert rows("state") == [(first, Delivery.INVALID_TOKEN)]
    assert bob.user.devices.get().is_active is True


def test_one_record_writes_a_batch_of_mixed_answers(channel):
    people = [make_person() for _ in range(4)]
    pks = [queue(person, channel)[0] for person in people]
    claimed = delivery.claim(None)
    results = {pks[0]: Result.accepted("a"), pks[1]: Result.retry("429", after=1),
               pks[2]: Result.invalid_token("BadDeviceToken"), pks[3]: Result.cancelled("message withdrawn")}
    delivery.record(claimed, results)
    assert [state for _, state in rows("state")] == [Delivery.ACCEPTED, Delivery.QUEUED, Delivery.INVALID_TOKEN,
                                                     Delivery.CANCELLED]
    assert [person.user.devices.get().is_active for person in people] == [True, True, False, True]


def test_an_answer_for_a_row_this_claim_no_longer_holds_writes_nothing(bob, channel):
    [first] = queue(bob, channel)
    claimed = delivery.claim(None)
    Delivery.objects.filter(pk=first).update(state=Delivery.CANCELLED, last_error="message withdrawn")
    delivery.record(claimed, {first: Result.accepted("late")})
    assert rows("state", "provider_message_id", "last_error") == [(first, Delivery.CANCELLED, "", "message withdrawn")]


def test_claim_and_record_answer_the_same_on_every_run_of_a_connection(channel):
    # PostgreSQL prepares a hot statement on its 5th run on a connection (and loads the claim in binary).
    person = make_person()
    for run in range(7):
        [pk] = queue(person, channel, text=f"run {run}")
        [claimed] = delivery.claim(Delivery.objects.get(pk=pk).message_id)
        assert (claimed.pk, claimed.message.text, claimed.device.push_token) == (pk, f"run {run}", person.push_token)
        delivery.record([claimed], {pk: Result.accepted(f"id-{run}")})
        assert rows("state", "provider_message_id", pk=pk) == [(pk, Delivery.ACCEPTED, f"id-{run}")]


# --- what the record tells the sender: the status and the webhook receipts ---


def test_a_recorded_push_shows_in_the_status_and_as_a_delivered_receipt(bob, channel):
    from messaging.selectors import message_status

    Channel.objects.filter(pk=channel.pk).update(webhook_url="https://hooks.example/kilo")
    [first] = queue(bob, channel)
    message_id = Delivery.objects.get(pk=first).message_id
    claimed = delivery.claim(None)
    now = timezone.now()
    delivery.record(claimed, {first: Result.accepted("a")}, now=now)
    from messaging import webhooks

    webhooks.after_pushes(claimed, now=now)
    status = message_status(channel_id=channel.pk, message_id=message_id)
    assert (status["state"], status["pushed_at"], status["devices"]) == (
        "pushed", now, {"queued": 0, "pushed": 1, "failed": 0})
    assert list(WebhookEvent.objects.values_list("type", "message_id")) == [("message.delivered", message_id)]


def test_a_message_no_device_can_take_is_failed_and_a_failed_receipt(channel):
    from messaging import webhooks
    from messaging.selectors import message_status

    Channel.objects.filter(pk=channel.pk).update(webhook_url="https://hooks.example/kilo")
    person = make_person()
    Device.objects.create(user=person.user, platform=Device.IOS, push_token="cd" * 32)
    pks = queue(person, channel)
    message_id = Delivery.objects.get(pk=pks[0]).message_id
    claimed = delivery.claim(None)
    delivery.record(claimed, {pks[0]: Result.invalid_token("UNREGISTERED"), pks[1]: Result.retry("timeout")})
    webhooks.after_pushes(claimed)
    assert not WebhookEvent.objects.exists()  # one device may still take it
    assert message_status(channel_id=channel.pk, message_id=message_id)["state"] == "queued"
    again = delivery.claim(None, now=timezone.now() + timedelta(hours=1))
    delivery.record(again, {pks[1]: Result.rejected("BadDeviceToken")})
    webhooks.after_pushes(again)
    assert message_status(channel_id=channel.pk, message_id=message_id)["state"] == "failed"
    assert list(WebhookEvent.objects.values_list("type", "message_id")) == [("message.failed", message_id)]


# --- the worker's whole pass, through the local FCM stand-in ---


def test_a_workers_pass_pushes_records_and_retires_a_dead_token(push_settings, fcm, channel):
    alive, dead = make_person(push_token="fcm-alive"), make_person(push_token="fcm-dead")
    fcm.script.set_outcomes("fcm-dead", ["unregistered"])
    [ok] = queue(alive, channel)
    [gone] = queue(dead, channel)
    queueing.deliver_batch(Delivery.objects.get(pk=ok).message_id)
    assert [state for _, state in rows("state")] == [Delivery.ACCEPTED, Delivery.INVALID_TOKEN]
    assert (alive.user.devices.get().is_active, dead.user.devices.get().is_active) == (True, False)
    assert sorted(push["token"] for push in fcm.script.pushes) == ["fcm-alive", "fcm-dead"]
    assert gone > ok
