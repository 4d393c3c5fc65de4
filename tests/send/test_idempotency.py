"""Idempotent retries: Idempotency-Key header or idempotency_key field, 24 h, one message per key."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.models import ChannelDailyCount
from messaging.models import Delivery, Message
from tests.helpers import status_of
from tests.helpers import fill_today
from tests.send.sender_support import WAIT, post, stack, wait_until  # noqa: F401
from users_app.services import blacklist_add



def answer(response):
    return response.json()["response"]


def test_a_repeat_answers_the_same_id_and_stores_nothing_more(send, valid_fields):
    first = send(valid_fields, HTTP_IDEMPOTENCY_KEY="retry-1")
    second = send(valid_fields, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == second.status_code == 200
    assert answer(first)["id"] == answer(second)["id"]
    assert Message.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_a_repeat_does_not_count_against_the_daily_limit(send, valid_fields, channel):
    first = send(valid_fields, HTTP_IDEMPOTENCY_KEY="k")
    second = send(valid_fields, HTTP_IDEMPOTENCY_KEY="k")
    assert ChannelDailyCount.objects.get(channel=channel).count == 1
    assert first["X-RateLimit-Remaining"] == second["X-RateLimit-Remaining"]


def test_the_key_may_be_a_json_field(send, valid_fields):
    first = send({**valid_fields, "idempotency_key": "json-key"})
    second = send({**valid_fields, "idempotency_key": "json-key"})
    assert answer(first)["id"] == answer(second)["id"]
    assert Message.objects.count() == 1


def test_the_key_may_be_a_form_field_for_clients_without_headers(send, valid_fields):
    first = send({**valid_fields, "idempotency_key": "arduino 42"}, form=True)
    second = send({**valid_fields, "idempotency_key": "arduino 42"}, form=True)
    assert answer(first)["id"] == answer(second)["id"]
    assert Message.objects.count() == 1


def test_the_header_and_the_field_are_the_same_key(send, valid_fields):
    first = send(valid_fields, HTTP_IDEMPOTENCY_KEY="same")
    second = send({**valid_fields, "idempotency_key": "same"}, form=True)
    assert answer(first)["id"] == answer(second)["id"]


def test_without_a_key_every_send_is_a_new_message(send, valid_fields):
    send(valid_fields)
    send(valid_fields)
    assert Message.objects.count() == 2


def test_keys_belong_to_one_channel(send, valid_fields, alice):
    from channels_app.services import channel_create

    other = channel_create(owner=alice.user, name="Other")
    first = send(valid_fields, HTTP_IDEMPOTENCY_KEY="shared")
    second = send({**valid_fields, "token": other.token, "secret": other.secret}, HTTP_IDEMPOTENCY_KEY="shared")
    assert answer(first)["id"] != answer(second)["id"]


@pytest.mark.parametrize(
    "change", [{"message": "Another text"}, {"url": "https://example.com"}, {"important": 1}, {"to": "other"}]
)
def test_the_same_key_with_another_message_is_4009(send, valid_fields, change, charlie):
    if change.get("to") == "other":
        change = {"to": charlie.token}
    send(valid_fields, HTTP_IDEMPOTENCY_KEY="reused")
    response = send({**valid_fields, **change}, HTTP_IDEMPOTENCY_KEY="reused")
    assert (response.status_code, status_of(response)) == (400, 4009)
    assert answer(response)["message"] == "Idempotency key reused with a different message"
    assert Message.objects.count() == 1


def test_silent_is_the_same_as_important_0(send, valid_fields):
    first = send({**valid_fields, "important": 0}, HTTP_IDEMPOTENCY_KEY="quiet")
    second = send({**valid_fields, "silent": 1}, HTTP_IDEMPOTENCY_KEY="quiet")
    assert answer(first)["id"] == answer(second)["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "nul\x00"])
def test_a_bad_field_key_is_4005(send, valid_fields, key):
    response = send({**valid_fields, "idempotency_key": key})
    assert status_of(response) == 4005
    assert not Message.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "bell\x07"])
def test_a_bad_header_key_is_4005(send, valid_fields, key):
    response = send(valid_fields, HTTP_IDEMPOTENCY_KEY=key)
    assert status_of(response) == 4005
    assert not Message.objects.exists()


def test_a_key_of_255_printable_characters_is_fine(send, valid_fields):
    key = "".join(chr(32 + i % 95) for i in range(255))
    assert status_of(send({**valid_fields, "idempotency_key": key})) == 200


def test_a_json_key_that_is_not_a_string_is_4005(send, valid_fields):
    assert status_of(send({**valid_fields, "idempotency_key": 12})) == 4005


def test_a_refused_send_stores_nothing_and_can_be_retried(send, valid_fields, bob, channel, settings):
    fill_today(channel, settings.CHANNEL_DAILY_LIMIT)
    refused = send(valid_fields, HTTP_IDEMPOTENCY_KEY="after-midnight")
    assert status_of(refused) == 4029
    ChannelDailyCount.objects.filter(channel=channel).delete()
    accepted = send(valid_fields, HTTP_IDEMPOTENCY_KEY="after-midnight")
    assert status_of(accepted) == 200
    assert Message.objects.count() == 1


def test_a_blacklisted_send_stores_nothing_and_can_be_retried(send, valid_fields, bob, channel):
    entry = blacklist_add(user=bob.user, channel=channel)
    assert status_of(send(valid_fields, HTTP_IDEMPOTENCY_KEY="k2")) == 4024
    entry.delete()
    assert status_of(send(valid_fields, HTTP_IDEMPOTENCY_KEY="k2")) == 200


def test_after_24_hours_the_key_makes_a_new_message(send, valid_fields):
    first = answer(send(valid_fields, HTTP_IDEMPOTENCY_KEY="daily"))["id"]
    Message.objects.filter(pk=first).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    second = answer(send({**valid_fields, "message": "changed"}, HTTP_IDEMPOTENCY_KEY="daily"))["id"]
    assert second != first
    assert Message.objects.count() == 2


def test_a_wrong_secret_with_a_key_is_still_4003(send, valid_fields):
    send(valid_fields, HTTP_IDEMPOTENCY_KEY="k3")
    response = send({**valid_fields, "secret": "wrong"}, HTTP_IDEMPOTENCY_KEY="k3")
    assert status_of(response) == 4003


@pytest.mark.slow
def test_20_concurrent_duplicates_make_one_message_and_one_push(stack, fcm):
    from tests.people import make_person

    person = make_person(platform="android", push_token="fcm-idem")
    stack.start_worker()
    body = {"to": person.token, **stack.credentials(), "message": "Door bell"}
    barrier = threading.Barrier(20)
    answers = [None] * 20

    def one(i):
        barrier.wait()
        answers[i] = post(stack.url + "/v1/messages/send", body, headers={"Idempotency-Key": "door-1"})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert [status for status, _ in answers] == [200] * 20, answers
    ids = {body["response"]["id"] for _, body in answers}
    assert len(ids) == 1
    [message_id] = ids
    assert list(Message.objects.values_list("id", flat=True)) == [int(message_id)]
    assert ChannelDailyCount.objects.get(channel=stack.channel).count == 1
    wait_until(lambda: fcm.script.accepted("fcm-idem"), "the push")
    wait_until(lambda: Delivery.objects.filter(state=Delivery.ACCEPTED).exists(), "the delivery")
    assert len(fcm.script.accepted("fcm-idem")) == 1
    assert Delivery.objects.count() == 1


def test_a_send_without_a_key_is_one_statement(send, valid_fields):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    send(valid_fields)  # warm up
    with CaptureQueriesContext(connection) as plain:
        assert status_of(send(valid_fields)) == 200
    statements = [q["sql"] for q in plain.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # The send context, the quota, the message and its deliveries: one round trip (PostgreSQL).
    assert len(statements) == 1, statements
    with CaptureQueriesContext(connection) as keyed:
        assert status_of(send(valid_fields, HTTP_IDEMPOTENCY_KEY="fresh")) == 200
    assert "ON CONFLICT (channel_id, idempotency_key)" in " ".join(q["sql"] for q in keyed.captured_queries)
