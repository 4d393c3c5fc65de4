"""A batch in flight: each answer is recorded as it arrives, and the claim is renewed until the last one.

The worker's pipeline (queueing.deliver_batch) runs in a thread here, the test looks at the rows meanwhile.
"""

import threading
import time

import pytest
from django.db import connection

from messaging import delivery, providers, queueing
from messaging.models import Delivery, Message
from tests.people import make_person

SLOW = 2.0  # the slow push's answer comes after this; every other step is immediate


@pytest.fixture
def slow_fcm(push_settings, fcm):
    push_settings.FCM_TIMEOUT = 10.0
    providers.reset()
    return fcm


def message_to(person, channel, text="Door bell"):
    message = Message.objects.create(recipient=person.user, channel=channel, text=text)
    Delivery.objects.create(message=message, device=person.user.devices.get())
    return message


def in_background(function, *args):
    done = {}

    def run():
        try:
            done["result"] = function(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def state(message):
    return Delivery.objects.get(message=message).state


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_answer_is_recorded_before_the_slowest_push_of_its_batch(transactional_db, slow_fcm, channel):
    quick, slow = make_person(platform="android", push_token="fcm-quick"), make_person(platform="android",
                                                                                     push_token="fcm-slow")
    slow_fcm.script.set_outcomes("fcm-slow", [f"delay:{SLOW}"])
    slow_message, quick_message = message_to(slow, channel), message_to(quick, channel)
    thread, _ = in_background(queueing.deliver_batch, quick_message.pk)  # one batch: both deliveries
    # A kill now would repeat only the slow push: the quick one's answer is written already.
    wait_for(lambda: state(quick_message) == Delivery.ACCEPTED)
    assert state(slow_message) == Delivery.SENDING
    thread.join(30)
    assert state(slow_message) == Delivery.ACCEPTED
    assert len(slow_fcm.script.pushes) == 2


def test_a_claim_in_flight_is_renewed_so_the_sweep_leaves_it(transactional_db, slow_fcm, channel, settings):
    settings.DELIVERY_CLAIM_TIMEOUT = 0.6  # renewed every 0.2 s; the push takes SLOW
    person = make_person(platform="android", push_token="fcm-slow")
    slow_fcm.script.set_outcomes("fcm-slow", [f"delay:{SLOW}"])
    message = message_to(person, channel)
    thread, _ = in_background(queueing.deliver_batch, message.pk)
    wait_for(lambda: len(slow_fcm.script.pushes) == 1)
    time.sleep(SLOW / 2)  # the claim is older than the timeout: only its renewal keeps it
    assert queueing.sweep() == []
    assert state(message) == Delivery.SENDING
    thread.join(30)
    row = Delivery.objects.get(message=message)
    assert (row.state, row.attempts) == (Delivery.ACCEPTED, 1)
    assert len(slow_fcm.script.pushes) == 1


def test_a_claim_the_sweep_took_is_not_renewed(transactional_db, channel):
    person = make_person(platform="android", push_token="fcm-taken")
    message = message_to(person, channel)
    [claimed] = delivery.claim(message.pk)
    Delivery.objects.filter(pk=claimed.pk).update(state=Delivery.QUEUED)  # the sweep re-queued it
    delivery.renew_claims([claimed])
    assert state(message) == Delivery.QUEUED


def test_the_next_deliveries_go_out_while_earlier_answers_are_in_flight(transactional_db, slow_fcm, channel,
                                                                          settings):
    settings.DELIVERY_BATCH_SIZE = 4  # the window: claimed in halves of 2, never more than 4 held
    people = [make_person(platform="android", push_token=f"fcm-window-{i}") for i in range(8)]
    for person in people[:2]:
        slow_fcm.script.set_outcomes(person.push_token, [f"delay:{SLOW}"])
    messages = [message_to(person, channel) for person in people]
    thread, _ = in_background(queueing.deliver_batch, messages[0].pk)
    # The two slow answers hold half the window; the other half carries the six quick ones meanwhile.
    wait_for(lambda: all(state(m) == Delivery.ACCEPTED for m in messages[2:]))
    assert {state(m) for m in messages[:2]} == {Delivery.SENDING}
    thread.join(30)
    assert {state(m) for m in messages} == {Delivery.ACCEPTED}
    assert len(slow_fcm.script.pushes) == 8
    assert slow_fcm.script.max_in_flight <= 4
