"""Issue 24, scheduled delivery: `at` in the send API; the message waits, out of every recipient path, until
its release gives it a fresh id (the newest of the inbox); the sender knows it by its first id throughout."""

import json
import threading
from datetime import timedelta, timezone as tz

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from channels_app.models import Channel, ChannelDailyCount
from messaging import scheduling
from messaging.emergency import message_acknowledge
from messaging.models import Delivery, Message, ScheduledMessage, WebhookEvent
from messaging.send.request import validate
from messaging.send.service import message_send
from tests.app_api import call
from tests.helpers import fill_today, status_of
from tests.people import make_person
from tests.send import images
from tests.send.test_attachments import media, stored_files, upload  # noqa: F401 (media: a fixture)
from users_app.models import BlacklistEntry

pytestmark = pytest.mark.django_db


def unix(delta):
    return int((timezone.now() + delta).timestamp())


def scheduled(send, fields, delta=timedelta(hours=1), **extra):
    response = send({**fields, "at": unix(delta)}, **extra)
    assert status_of(response) == 200, response.content
    return int(response.json()["response"]["id"])


def status(channel, message_id):
    body = {"token": channel.token, "secret": channel.secret, "id": str(message_id)}
    response = Client().post("/v1/messages/status", json.dumps(body), content_type="application/json")
    assert status_of(response) == 200, response.content
    return response.json()["response"]["message"]


def withdraw(channel, message_id):
    body = {"token": channel.token, "secret": channel.secret, "id": str(message_id)}
    return Client().post("/v1/messages/withdraw", json.dumps(body), content_type="application/json")


def inbox_ids(person, query=""):
    return [m["id"] for m in call(Client(), "GET", f"/v1/app/messages{query}", person).json()["messages"]]


def release(delta=timedelta(hours=2)):
    return scheduling.release_due(now=timezone.now() + delta)


# --- validation ---------------------------------------------------------------------------------------------


BAD_AT = [
    pytest.param(lambda: unix(-timedelta(minutes=5)), "from now to 30 days", id="past-beyond-skew"),
    pytest.param(lambda: unix(timedelta(days=30, minutes=5)), "from now to 30 days", id="over-30-days"),
    pytest.param(lambda: (timezone.now() - timedelta(hours=1)).isoformat(), "from now to 30 days", id="iso-past"),
    pytest.param(lambda: (timezone.now() + timedelta(days=31)).isoformat(), "from now to 30 days", id="iso-31-days"),
    pytest.param(lambda: (timezone.now() + timedelta(hours=1)).replace(tzinfo=None).isoformat(), "zone",
                 id="iso-without-zone"),
    pytest.param(lambda: "tomorrow", "Unix time", id="words"),
    pytest.param(lambda: "2030-13-45T10:00:00Z", "Unix time", id="no-such-date"),
    pytest.param(lambda: "-60", "Unix time", id="negative"),
    pytest.param(lambda: str(unix(timedelta(hours=1))) + ".5", "Unix time", id="fraction"),
    pytest.param(lambda: "99999999999999999999", "Unix time", id="huge"),
]


@pytest.mark.parametrize("at, problem", BAD_AT)
@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_an_invalid_at_is_4005_in_the_envelope(send, valid_fields, at, problem, form):
    response = send({**valid_fields, "at": at()}, form=form)
    assert (response.status_code, status_of(response)) == (400, 4005), response.content
    assert problem in response.json()["response"]["message"]
    assert not Message.objects.exists() and not ScheduledMessage.objects.exists()


@pytest.mark.parametrize("at", [True, 1.5e9, [1], {"t": 1}], ids=["bool", "float", "list", "object"])
def test_an_at_of_another_json_type_is_4005(send, valid_fields, at):
    response = send({**valid_fields, "at": at})
    assert status_of(response) == 4005, response.content


def test_an_at_beyond_30_days_is_refused_and_just_under_is_accepted(send, valid_fields):
    assert status_of(send({**valid_fields, "at": unix(timedelta(days=30, seconds=10))})) == 4005
    assert status_of(send({**valid_fields, "at": unix(timedelta(days=30, seconds=-10))})) == 200


@pytest.mark.parametrize("at", [
    lambda: unix(timedelta(hours=1)),
    lambda: str(unix(timedelta(hours=1))),
    lambda: (timezone.now() + timedelta(hours=1)).astimezone(tz.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda: (timezone.now() + timedelta(hours=1)).astimezone(tz(timedelta(hours=2))).isoformat(),
], ids=["unix", "unix-string", "iso-z", "iso-offset"])
@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_at_is_a_unix_time_or_iso_8601_with_a_zone(send, valid_fields, at, form):
    value = at()
    if form and not isinstance(value, str):
        value = str(value)
    response = send({**valid_fields, "at": value}, form=form)
    assert status_of(response) == 200, response.content
    row = ScheduledMessage.objects.get(pk=int(response.json()["response"]["id"]))
    assert abs(row.at - (timezone.now() + timedelta(hours=1))) < timedelta(seconds=5)


def test_a_multipart_send_takes_at_and_its_upload_waits_for_the_release(client, valid_fields, media):
    response = upload(client, {**valid_fields, "at": str(unix(timedelta(hours=1)))}, images.png())
    assert status_of(response) == 200, response.content
    row = ScheduledMessage.objects.get(pk=int(response.json()["response"]["id"]))
    assert row.attachment_file and len(stored_files(media)) == 1
    [(scheduled_id, message_id)] = release().items()
    assert Message.objects.get(pk=message_id).attachment_file == row.attachment_file
    assert len(stored_files(media)) == 1


def test_an_at_a_little_in_the_past_is_sent_at_once(send, valid_fields):
    response = send({**valid_fields, "at": unix(-timedelta(seconds=30))})
    assert status_of(response) == 200, response.content
    assert Message.objects.filter(pk=int(response.json()["response"]["id"])).exists()
    assert not ScheduledMessage.objects.exists()


def test_validate_reads_at_as_an_aware_datetime():
    at = timezone.now().replace(microsecond=0) + timedelta(days=2)
    request = validate({"to": "u", "token": "c", "secret": "s", "message": "m", "at": at.isoformat()})
    assert request.at == at


# --- until `at`: scheduled, nowhere for the recipient, counted once ---------------------------------------------


def test_a_scheduled_send_answers_its_id_and_stays_out_of_the_inbox(send, valid_fields, bob, channel):
    message_id = scheduled(send, valid_fields)
    assert not Message.objects.exists() and not Delivery.objects.exists()
    assert inbox_ids(bob) == []
    answer = status(channel, message_id)
    assert answer["state"] == "scheduled" and answer["id"] == str(message_id)
    assert answer["devices"] == {"queued": 0, "pushed": 0, "failed": 0} and answer["pushed_at"] is None
    assert answer["at"] == ScheduledMessage.objects.get().at.astimezone(tz.utc).isoformat().replace("+00:00", "Z")


def test_the_status_of_a_scheduled_message_matches_the_published_schema(send, valid_fields, channel):
    import jsonschema

    from messaging.send.schema import MESSAGE_STATUS
    from tests.app_api import _as_json_schema

    message_id = scheduled(send, valid_fields)
    body = {"token": channel.token, "secret": channel.secret, "id": str(message_id)}
    response = Client().post("/v1/messages/status", json.dumps(body), content_type="application/json")
    jsonschema.validate(response.json(), _as_json_schema(MESSAGE_STATUS))


def test_a_scheduled_id_is_never_a_message_id(send, valid_fields):
    first = send(valid_fields).json()["response"]["id"]
    message_id = scheduled(send, valid_fields)
    after = send(valid_fields).json()["response"]["id"]
    assert int(first) < message_id < int(after)
    [(scheduled_id, released)] = release().items()
    assert released > int(after) and not Message.objects.filter(pk=message_id).exists()


def test_the_reserved_id_comes_from_the_messages_sequence(db):
    taken = scheduling.reserve_message_id()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {Message._meta.db_table}_id_seq")
        assert cursor.fetchone()[0] >= taken


def test_the_quota_counts_at_send_time_once_and_the_release_takes_nothing(send, valid_fields, channel):
    fill_today(channel, 9)
    response = send({**valid_fields, "at": unix(timedelta(hours=1))})
    assert status_of(response) == 200 and response["X-RateLimit-Remaining"] == str(
        int(response["X-RateLimit-Limit"]) - 10)
    fill_today(channel, int(response["X-RateLimit-Limit"]))  # the day's limit is used up meanwhile
    [(scheduled_id, message_id)] = release().items()
    assert message_id is not None
    assert ChannelDailyCount.objects.get(channel=channel).count == int(response["X-RateLimit-Limit"])


def test_a_scheduled_send_over_the_daily_limit_is_4029(send, valid_fields, channel, settings):
    fill_today(channel, settings.CHANNEL_DAILY_LIMIT)
    assert status_of(send({**valid_fields, "at": unix(timedelta(hours=1))})) == 4029
    assert not ScheduledMessage.objects.exists()


@pytest.mark.parametrize("refusal", ["channel", "blacklist"])
def test_the_checks_of_the_send_apply_to_a_scheduled_send(send, valid_fields, channel, bob, refusal):
    if refusal == "channel":
        Channel.objects.filter(pk=channel.pk).update(is_blocked=True)
    else:
        BlacklistEntry.objects.create(user=bob.user, channel=channel)
    assert status_of(send({**valid_fields, "at": unix(timedelta(hours=1))})) == (4023 if refusal == "channel" else 4024)


# --- the release ---------------------------------------------------------------------------------------------


def test_nothing_is_released_before_its_time(send, valid_fields):
    scheduled(send, valid_fields, timedelta(minutes=10))
    assert scheduling.release_due(now=timezone.now() + timedelta(minutes=9)) == {}
    assert not Message.objects.exists()


def test_the_release_delivers_it_as_the_newest_message_and_a_client_polling_after_sees_it(
        send, valid_fields, bob, channel):
    message_id = scheduled(send, {**valid_fields, "message": "Later", "title": "Reminder"})
    last = int(send({**valid_fields, "message": "Now"}).json()["response"]["id"])
    assert inbox_ids(bob, f"?after={last}") == []
    [(scheduled_id, released)] = release().items()
    assert scheduled_id == message_id and released > last
    assert inbox_ids(bob, f"?after={last}") == [released]
    message = Message.objects.get(pk=released)
    assert (message.text, message.title, message.had_devices) == ("Later", "Reminder", True)
    assert Delivery.objects.filter(message=message, state=Delivery.QUEUED).count() == 1
    answer = status(channel, message_id)
    assert (answer["id"], answer["state"]) == (str(message_id), "queued")
    assert answer["at"] is not None


def test_ttl_and_an_emergencys_repeats_start_at_the_release(send, valid_fields, settings):
    scheduled(send, {**valid_fields, "ttl": 600, "priority": 2, "retry": 60, "expire": 3600}, timedelta(hours=5))
    when = timezone.now() + timedelta(hours=6)
    [message_id] = scheduling.release_due(now=when).values()
    message = Message.objects.get(pk=message_id)
    assert message.created_at == when
    assert (message.expires_at, message.emergency_next_at, message.emergency_until) == (
        when + timedelta(seconds=600), when + timedelta(seconds=60), when + timedelta(seconds=3600))


def test_a_release_that_dies_midway_leaves_the_message_for_the_next_one(send, valid_fields, monkeypatch):
    message_id = scheduled(send, valid_fields)

    def worker_lost(scheduled, now):
        raise SystemExit("the worker died")

    monkeypatch.setattr(scheduling, "_insert", worker_lost)
    with pytest.raises(SystemExit):
        release()
    assert ScheduledMessage.objects.get().state == ScheduledMessage.SCHEDULED and not Message.objects.exists()
    monkeypatch.undo()
    assert list(release()) == [message_id] and Message.objects.count() == 1


def test_a_released_message_is_released_once(send, valid_fields):
    scheduled(send, valid_fields)
    assert len(release()) == 1
    assert release() == {} and Message.objects.count() == 1


@pytest.mark.parametrize("refusal", ["channel", "blacklist"])
def test_a_channel_blocked_or_blacklisted_before_the_release_is_not_delivered(send, valid_fields, channel, bob,
                                                                            refusal):
    message_id = scheduled(send, valid_fields)
    if refusal == "channel":
        Channel.objects.filter(pk=channel.pk).update(is_blocked=True)
    else:
        BlacklistEntry.objects.create(user=bob.user, channel=channel)
    assert release() == {message_id: None}
    assert not Message.objects.exists() and inbox_ids(bob) == []
    assert ScheduledMessage.objects.get().state == ScheduledMessage.FAILED
    Channel.objects.filter(pk=channel.pk).update(is_blocked=False)
    assert status(channel, message_id)["state"] == "failed"


def test_a_replace_takes_effect_at_the_release(send, valid_fields, bob):
    old = int(send(valid_fields).json()["response"]["id"])
    scheduled(send, {**valid_fields, "replace": old})
    assert inbox_ids(bob) == [old]
    [released] = release().values()
    assert inbox_ids(bob) == [released]
    assert Message.objects.get(pk=released).collapse_key == str(old)


# --- withdraw ---------------------------------------------------------------------------------------------------


def test_a_withdraw_before_the_release_cancels_it_for_good(send, valid_fields, channel, bob):
    message_id = scheduled(send, valid_fields)
    assert status_of(withdraw(channel, message_id)) == 200
    assert status(channel, message_id)["state"] == "withdrawn"
    assert release() == {} and not Message.objects.exists() and inbox_ids(bob) == []
    assert status_of(withdraw(channel, message_id)) == 200  # idempotent
    assert status(channel, message_id)["state"] == "withdrawn"


def test_a_withdraw_before_the_release_deletes_the_waiting_upload(client, valid_fields, channel, media,
                                                                  django_capture_on_commit_callbacks):
    message_id = int(upload(client, {**valid_fields, "at": str(unix(timedelta(hours=1)))}, images.png())
                     .json()["response"]["id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert status_of(withdraw(channel, message_id)) == 200
    assert stored_files(media) == []


def test_a_withdraw_after_the_release_withdraws_the_released_message(send, valid_fields, channel, bob):
    message_id = scheduled(send, valid_fields)
    [released] = release().values()
    assert status_of(withdraw(channel, message_id)) == 200
    assert Message.objects.get(pk=released).removed_reason == Message.WITHDRAWN
    assert inbox_ids(bob) == []
    assert status(channel, message_id)["state"] == "withdrawn"


def test_another_channel_cannot_see_or_withdraw_a_scheduled_message(send, valid_fields, alice):
    from channels_app.services import channel_create

    other = channel_create(owner=alice.user, name="Other")
    message_id = scheduled(send, valid_fields)
    body = {"token": other.token, "secret": other.secret, "id": str(message_id)}
    assert status_of(Client().post("/v1/messages/status", json.dumps(body), content_type="application/json")) == 4003
    assert status_of(withdraw(other, message_id)) == 4003
    assert ScheduledMessage.objects.get().state == ScheduledMessage.SCHEDULED


# --- idempotent repeats, webhooks ----------------------------------------------------------------------------------


def test_a_repeat_with_the_same_key_answers_the_scheduled_id_before_and_after_the_release(send, valid_fields):
    at = unix(timedelta(hours=1))
    fields = {**valid_fields, "at": at, "idempotency_key": "reminder-1"}
    first = send(fields).json()["response"]["id"]
    assert send(fields).json()["response"]["id"] == first
    release()
    assert send(fields).json()["response"]["id"] == first
    assert ScheduledMessage.objects.count() == 1 and Message.objects.count() == 1


def test_a_repeat_with_another_at_or_unscheduled_is_4009(send, valid_fields):
    fields = {**valid_fields, "at": unix(timedelta(hours=1)), "idempotency_key": "reminder-2"}
    assert status_of(send(fields)) == 200
    assert status_of(send({**fields, "at": unix(timedelta(hours=2))})) == 4009
    immediate = {**valid_fields, "idempotency_key": "now-1"}
    assert status_of(send(immediate)) == 200
    assert status_of(send({**immediate, "at": unix(timedelta(hours=1))})) == 4009


def test_webhook_events_name_the_id_the_sender_was_given(send, valid_fields, channel, bob):
    Channel.objects.filter(pk=channel.pk).update(webhook_url="https://hooks.example.org/kilo")
    message_id = scheduled(send, valid_fields)
    [released] = release().values()
    assert message_acknowledge(user=bob.user, message_id=released)
    event = WebhookEvent.objects.get(type="message.acknowledged")
    assert event.message_id == message_id
    assert json.loads(event.payload)["data"]["id"] == str(message_id)


# --- concurrency ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_releasers_release_each_message_exactly_once(bob, channel):
    request = validate({"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "m",
                        "at": unix(timedelta(minutes=5))})
    ids = [message_send(request=request)[0] for _ in range(60)]
    barrier, results, errors = threading.Barrier(2), [], []

    def releaser():
        try:
            barrier.wait()
            for _ in range(5):
                results.append(scheduling.release_due(now=timezone.now() + timedelta(minutes=10), limit=7))
        except Exception as exc:  # pragma: no cover (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=releaser) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.append(scheduling.release_due(now=timezone.now() + timedelta(minutes=10)))  # what both skipped at the end
    assert errors == []
    released = [key for result in results for key in result]
    assert sorted(released) == sorted(ids)  # each once, none twice
    assert Message.objects.count() == 60
    assert ScheduledMessage.objects.filter(state="released").values("message_id").distinct().count() == 60


@pytest.mark.django_db(transaction=True)
def test_a_withdraw_racing_the_release_either_cancels_it_or_withdraws_the_released_one(bob, channel):
    request = validate({"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "m",
                        "at": unix(timedelta(minutes=5))})
    ids = [message_send(request=request)[0] for _ in range(20)]
    from messaging.services import message_withdraw

    barrier = threading.Barrier(2)

    def releaser():
        barrier.wait()
        scheduling.release_due(now=timezone.now() + timedelta(minutes=10))
        connection.close()

    thread = threading.Thread(target=releaser)
    thread.start()
    barrier.wait()
    for message_id in ids:
        assert message_withdraw(channel_id=channel.pk, message_id=message_id)
    thread.join()
    for row in ScheduledMessage.objects.all():
        assert row.state in ("cancelled", "released")
        if row.state == "released":
            assert Message.objects.get(pk=row.message_id).removed_reason == Message.WITHDRAWN
    assert not Message.objects.in_inbox().exists()


def test_staff_see_scheduled_messages_in_the_admin_without_their_text(admin_client, send, valid_fields, channel):
    message_id = scheduled(send, {**valid_fields, "message": "Private words"})
    page = admin_client.get(f"/admin/messaging/scheduledmessage/?channel_token={channel.token}")
    assert page.status_code == 200 and str(message_id).encode() in page.content
    detail = admin_client.get(f"/admin/messaging/scheduledmessage/{message_id}/change/")
    assert detail.status_code == 200 and b"Private words" not in detail.content
