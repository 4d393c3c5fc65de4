"""Retention: old messages, finished deliveries and daily quota counters deleted in batches by beat, on
PostgreSQL, without holding up sends; the admin statistics keep their windows."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from channels_app.models import ChannelDailyCount
from channels_app.quota import utc_today
from stats_app import selectors as admin_selectors
from messaging import retention
from messaging.models import Delivery, Message
from messaging.tasks import purge_old_rows
from users_app.models import Device


def message(recipient, channel, *, age, states=()):
    """A message `age` old with one delivery per state to the recipient's device."""
    created = timezone.now() - age
    msg = Message.objects.create(recipient=recipient.user, channel=channel, text="old")
    Message.objects.filter(pk=msg.pk).update(created_at=created)
    devices = list(Device.objects.filter(user=recipient.user).order_by("id"))
    while len(devices) < len(states):
        devices.append(Device.objects.create(user=recipient.user, platform="android", push_token=f"t{len(devices)}"))
    for device, state in zip(devices, states):
        Delivery.objects.create(message=msg, device=device, state=state)
    Delivery.objects.filter(message=msg).update(created_at=created, updated_at=created)
    return msg


@pytest.mark.django_db
def test_messages_past_retention_go_with_their_deliveries(settings, bob, channel):
    settings.MESSAGE_RETENTION_DAYS = 90
    old = message(bob, channel, age=timedelta(days=91), states=[Delivery.ACCEPTED])
    kept = message(bob, channel, age=timedelta(days=89), states=[])
    done = retention.purge()
    assert done["messages"] == 1
    assert list(Message.objects.values_list("id", flat=True)) == [kept.id]
    assert not Delivery.objects.filter(message_id=old.id).exists()


@pytest.mark.django_db
def test_finished_deliveries_past_retention_go_and_the_messages_stay(settings, bob, channel):
    settings.DELIVERY_RETENTION_DAYS = 14
    finished = [Delivery.ACCEPTED, Delivery.INVALID_TOKEN, Delivery.REJECTED, Delivery.EXPIRED]
    old = message(bob, channel, age=timedelta(days=15), states=finished + [Delivery.QUEUED])
    recent = message(bob, channel, age=timedelta(days=13), states=finished)
    done = retention.purge()
    assert done["deliveries"] == 4
    assert list(Delivery.objects.filter(message=old).values_list("state", flat=True)) == [Delivery.QUEUED]
    assert Delivery.objects.filter(message=recent).count() == 4
    assert Message.objects.count() == 2  # the inbox keeps them for MESSAGE_RETENTION_DAYS


@pytest.mark.django_db
def test_daily_counters_older_than_a_week_go(channel):
    today = utc_today(timezone.now())
    for age in (0, 6, 7, 8, 30):
        ChannelDailyCount.objects.create(channel=channel, day=today - timedelta(days=age), count=5)
    assert retention.purge()["daily_counts"] == 2
    assert sorted((today - d).days for d in ChannelDailyCount.objects.values_list("day", flat=True)) == [0, 6, 7]


@pytest.mark.django_db
def test_it_deletes_in_batches(settings, bob, channel):
    settings.MESSAGE_RETENTION_DAYS = settings.DELIVERY_RETENTION_DAYS = 1
    for _ in range(7):
        message(bob, channel, age=timedelta(days=2), states=[Delivery.ACCEPTED])
    done = retention.purge(batch_size=3)
    assert done["messages"] == 7 and done["deliveries"] == 7
    assert done["batches"] == 3 + 3  # deliveries 3+3+1, then messages 3+3+1
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_zero_days_keeps_everything(settings, bob, channel):
    settings.MESSAGE_RETENTION_DAYS = settings.DELIVERY_RETENTION_DAYS = 0
    message(bob, channel, age=timedelta(days=400), states=[Delivery.ACCEPTED])
    retention.purge()
    assert Message.objects.count() == 1 and Delivery.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_statistics_keep_their_window(settings, bob, channel):
    now = timezone.now()
    message(bob, channel, age=timedelta(days=20), states=[Delivery.ACCEPTED])
    message(bob, channel, age=timedelta(days=13), states=[Delivery.ACCEPTED, Delivery.INVALID_TOKEN])
    message(bob, channel, age=timedelta(hours=1), states=[Delivery.ACCEPTED])
    before = admin_selectors.deliveries_by_state_and_platform(now=now)
    per_day_before = admin_selectors.messages_per_day(now=now)
    retention.purge()
    assert Delivery.objects.count() == 3  # the 20-day-old one went
    assert admin_selectors.deliveries_by_state_and_platform(now=now) == before == {
        "android": {Delivery.ACCEPTED: 2, Delivery.INVALID_TOKEN: 1}}
    assert admin_selectors.messages_per_day(now=now) == per_day_before


@pytest.mark.django_db
def test_beat_runs_it(settings, bob, channel):
    assert "messaging.tasks.purge_old_rows" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    message(bob, channel, age=timedelta(days=100), states=[Delivery.ACCEPTED])
    purge_old_rows()
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_in_progress_does_not_hold_up_a_send(settings, bob, channel, send, valid_fields):
    """A retention batch holds its locks on old rows only: a send meanwhile needs none of them."""
    settings.MESSAGE_RETENTION_DAYS = 1
    for _ in range(3):
        message(bob, channel, age=timedelta(days=2), states=[Delivery.ACCEPTED])
    holding, release = threading.Event(), threading.Event()
    errors = []

    def batch_held_open():
        from django.db import connections

        try:
            with transaction.atomic():
                ids = list(Message.objects.filter(created_at__lt=timezone.now() - timedelta(days=1))
                           .select_for_update(skip_locked=True).values_list("id", flat=True))
                Message.objects.filter(id__in=ids).delete()
                holding.set()
                release.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            holding.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=batch_held_open)
    thread.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        response = send(valid_fields)
        assert response.status_code == 200, response.content  # a lock wait would fail after 2 s instead
        assert retention.purge()["messages"] == 0  # the held batch's rows are skipped, not waited for
    finally:
        release.set()
        thread.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert not errors
    assert Message.objects.count() == 1
