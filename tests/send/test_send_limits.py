"""The daily limit (exact, durable, per UTC day) and the failed-attempt throttle."""

import datetime
import threading
from unittest import mock

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from channels_app.models import ChannelDailyCount
from channels_app.services import channel_set_verified
from messaging import bans
from messaging.models import Message, SendBan
from tests.helpers import fill_today, status_of


def test_it_sends_rate_limit_headers_for_unverified_channels(send, valid_fields):
    response = send(valid_fields)
    assert response["X-RateLimit-Limit"] == "300"
    assert response["X-RateLimit-Remaining"] == "299"
    reset = int(response["X-RateLimit-Reset"])
    tomorrow = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)
    assert datetime.datetime.fromtimestamp(reset, datetime.timezone.utc) == datetime.datetime.combine(
        tomorrow, datetime.time(), datetime.timezone.utc
    )


def test_it_sends_no_rate_limit_headers_for_verified_channels(send, valid_fields, channel):
    channel_set_verified(channel=channel, verified=True)
    response = send(valid_fields)
    assert status_of(response) == 200
    assert "X-RateLimit-Limit" not in response


def test_it_accepts_the_300th_message(send, valid_fields, channel):
    fill_today(channel, 299)
    response = send(valid_fields)
    assert status_of(response) == 200
    assert response["X-RateLimit-Remaining"] == "0"


def test_it_refuses_the_301st_message(send, valid_fields, channel):
    fill_today(channel, 300)
    response = send(valid_fields)
    assert response.status_code == 400
    assert status_of(response) == 4029
    assert response["X-RateLimit-Remaining"] == "0"
    assert not Message.objects.exists()


def test_refused_sends_do_not_count(send, valid_fields, channel):
    fill_today(channel, 299)
    assert status_of(send({**valid_fields, "to": "u_nobody"})) == 4005
    assert status_of(send({**valid_fields, "secret": "wrong"})) == 4003
    assert status_of(send(valid_fields)) == 200
    assert ChannelDailyCount.objects.get(channel=channel).count == 300


@pytest.mark.django_db(transaction=True)
def test_a_failed_insert_does_not_count(send, valid_fields, channel, monkeypatch):
    fill_today(channel, 10)
    # The deliveries' insert fails (a foreign key violation, checked when the statement
    # commits) after the quota was taken: the whole send rolls back.
    from messaging.send import sql

    for name in ("SEND", "STORE", "STORE_KEYED"):  # the one-statement send, and with a key
        broken = getattr(sql, name).replace("SELECT message.id, d.id,", "SELECT message.id, d.id + 1000000000,")
        assert broken != getattr(sql, name)
        monkeypatch.setattr(sql, name, broken)
    assert send(valid_fields).status_code == 500
    assert send(valid_fields, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 500
    assert ChannelDailyCount.objects.get(channel=channel).count == 10
    assert not Message.objects.exists()


def test_verified_channels_send_past_300(send, valid_fields, channel):
    fill_today(channel, 300)
    channel.is_verified = True
    channel.save()
    assert status_of(send(valid_fields)) == 200


def test_unverifying_restores_the_limit_on_the_next_send(send, valid_fields, channel):
    channel_set_verified(channel=channel, verified=True)
    fill_today(channel, 300)
    assert status_of(send(valid_fields)) == 200
    channel_set_verified(channel=channel, verified=False)
    assert status_of(send(valid_fields)) == 4029


def test_the_limit_starts_again_after_utc_midnight(send, valid_fields, channel):
    before = datetime.datetime(2026, 3, 1, 23, 59, 59, tzinfo=datetime.timezone.utc)
    after = datetime.datetime(2026, 3, 2, 0, 0, 0, tzinfo=datetime.timezone.utc)
    ChannelDailyCount.objects.create(channel=channel, day=before.date(), count=300)
    with mock.patch("messaging.send.service.timezone.now", return_value=before):
        assert status_of(send(valid_fields)) == 4029
    with mock.patch("messaging.send.service.timezone.now", return_value=after):
        response = send(valid_fields)
    assert status_of(response) == 200
    assert response["X-RateLimit-Remaining"] == "299"
    assert response["X-RateLimit-Reset"] == str(int(datetime.datetime(2026, 3, 3, tzinfo=datetime.timezone.utc).timestamp()))


def test_the_day_is_utc_not_local_time(send, valid_fields, channel):
    # 23:30 in New York on March 1st is already March 2nd in UTC.
    new_york = datetime.timezone(datetime.timedelta(hours=-5))
    now = datetime.datetime(2026, 3, 1, 23, 30, tzinfo=new_york)
    with mock.patch("messaging.send.service.timezone.now", return_value=now):
        assert status_of(send(valid_fields)) == 200
    assert ChannelDailyCount.objects.get(channel=channel).day == datetime.date(2026, 3, 2)


def test_the_limit_survives_a_redis_flush(send, valid_fields, channel):
    fill_today(channel, 300)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    assert status_of(send(valid_fields)) == 4029


@pytest.mark.django_db(transaction=True)
def test_exactly_300_are_accepted_from_16_parallel_senders(valid_fields, channel):
    fill_today(channel, 0)
    results = []
    lock = threading.Lock()

    def sender():
        client = Client()
        for _ in range(25):
            response = client.post("/v1/messages/send", valid_fields, content_type="application/json")
            with lock:
                results.append(status_of(response))
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(200) == 300
    assert results.count(4029) == 100
    assert Message.objects.count() == 300
    assert ChannelDailyCount.objects.get(channel=channel).count == 300


# --- failed attempts -----------------------------------------------------------------------------


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_repeated_4003_are_throttled(send, valid_fields):
    for _ in range(5):
        assert status_of(send({**valid_fields, "secret": "guess"})) == 4003
    response = send({**valid_fields, "secret": "guess"})
    assert status_of(response) == 4029
    assert response.json()["response"]["message"] == "Too many failed attempts"
    assert int(response["Retry-After"]) >= 1


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_a_throttled_address_cannot_send_even_with_the_right_secret(send, valid_fields):
    for _ in range(5):
        send({**valid_fields, "secret": "guess"})
    assert status_of(send(valid_fields)) == 4029
    assert not Message.objects.exists()


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_a_banned_address_gets_4029_before_any_other_error(send, valid_fields):
    for _ in range(5):
        send({**valid_fields, "secret": "guess"})
    assert status_of(send(raw="{")) == 4029  # not 4000
    assert status_of(send({**valid_fields, "to": ""})) == 4029  # not 4005
    assert status_of(send({**valid_fields, "secret": "guess"})) == 4029  # not 4003


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_a_ban_is_kept_in_the_database_and_outlives_a_redis_flush(send, valid_fields):
    from django.core.cache import cache

    for _ in range(5):
        send({**valid_fields, "secret": "guess"})
    ban = SendBan.objects.get()
    assert ban.client == "127.0.0.1"
    assert 0 < (ban.until - timezone.now()).total_seconds() <= 60
    cache.clear()  # a Redis restart without persistence: the failures' count is gone, the ban is not
    response = send(valid_fields)
    assert status_of(response) == 4029
    assert 1 <= int(response["Retry-After"]) <= 60


def test_a_banned_send_is_refused_by_the_sends_one_statement(send, valid_fields):
    from django.test.utils import CaptureQueriesContext

    bans.ban("127.0.0.1", seconds=30)
    with CaptureQueriesContext(connection) as queries:
        response = send(valid_fields)
    assert status_of(response) == 4029
    assert len(queries) == 1 and "messaging_sendban" in queries[0]["sql"]
    assert not Message.objects.exists()


def test_an_expired_ban_no_longer_refuses_and_the_next_ban_drops_it(send, valid_fields):
    SendBan.objects.create(client="127.0.0.1", until=timezone.now() - datetime.timedelta(seconds=1),
                           banned_at=timezone.now() - datetime.timedelta(seconds=61))
    assert status_of(send(valid_fields)) == 200
    bans.ban("198.51.100.7", seconds=30)
    assert list(SendBan.objects.values_list("client", flat=True)) == ["198.51.100.7"]


def test_deleting_the_ban_lifts_it(send, valid_fields):
    bans.ban("127.0.0.1", seconds=30)
    assert status_of(send(valid_fields)) == 4029
    SendBan.objects.filter(client="127.0.0.1").delete()  # what staff do in the admin
    assert status_of(send(valid_fields)) == 200


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_other_addresses_are_not_throttled(send, valid_fields):
    for _ in range(6):
        send({**valid_fields, "secret": "guess"})
    assert status_of(send(valid_fields, REMOTE_ADDR="10.1.2.3")) == 200


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_successful_sends_do_not_count_as_failures(send, valid_fields):
    for _ in range(10):
        assert status_of(send(valid_fields)) == 200


@override_settings(SEND_AUTH_FAILURE_RATE="5/m")
def test_a_spoofed_forwarded_for_does_not_reset_the_count(send, valid_fields):
    for i in range(5):
        send({**valid_fields, "secret": "guess"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    assert status_of(send(valid_fields, HTTP_X_FORWARDED_FOR="198.51.100.7")) == 4029


@override_settings(SEND_AUTH_FAILURE_RATE="5/m", TRUSTED_PROXY_COUNT=1)
def test_a_trusted_proxy_forwarded_for_names_the_client(send, valid_fields):
    for _ in range(5):
        send({**valid_fields, "secret": "guess"}, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert status_of(send(valid_fields, HTTP_X_FORWARDED_FOR="203.0.113.9")) == 4029
    assert status_of(send(valid_fields, HTTP_X_FORWARDED_FOR="198.51.100.7")) == 200


@override_settings(SEND_AUTH_FAILURE_RATE="5/m", TRUSTED_PROXY_COUNT=1)
def test_with_a_trusted_proxy_a_client_prefix_does_not_reset_the_count(send, valid_fields):
    for i in range(5):
        send({**valid_fields, "secret": "guess"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 203.0.113.9")
    assert status_of(send(valid_fields, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.9")) == 4029


def test_without_redis_sends_still_work_and_the_throttle_fails_open(send, valid_fields):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=unreachable, SEND_AUTH_FAILURE_RATE="1/m"):
        assert status_of(send({**valid_fields, "secret": "guess"})) == 4003
        assert status_of(send({**valid_fields, "secret": "guess"})) == 4003
        assert status_of(send(valid_fields)) == 200


def test_staff_lift_a_ban_by_deleting_it_in_the_admin(admin_client, send, valid_fields):
    bans.ban("127.0.0.1", seconds=30)
    changelist = admin_client.get("/admin/messaging/sendban/")
    assert b"127.0.0.1" in changelist.content
    admin_client.post("/admin/messaging/sendban/",
                      {"action": "delete_selected", "_selected_action": ["127.0.0.1"], "post": "yes"})
    assert not SendBan.objects.exists()
    assert status_of(send(valid_fields)) == 200
