"""A send whose transaction rolls back enqueues nothing and pushes nothing, with a real worker and the stand-ins
watching; a committed send right after it is pushed, so the silence is not a dead worker's."""

import re

import pytest
from django.conf import settings
from django.db import transaction

from channels_app.services import channel_create
from messaging.models import Delivery, Message
from messaging.send.request import SendRequest
from messaging.send.service import message_send
from tests.chaos_support import seen_pushes, undelivered, wait_until
from tests.people import make_person
from users_app.models import Device

pytestmark = pytest.mark.slow


class CallerFailed(Exception):
    pass


def roll_back_by_exception(request):
    with pytest.raises(CallerFailed):
        with transaction.atomic():
            message_send(request=request)
            raise CallerFailed("the caller's transaction fails after the send")


def roll_back_by_set_rollback(request):
    with transaction.atomic():
        message_send(request=request)
        transaction.set_rollback(True)


@pytest.mark.parametrize("roll_back", [roll_back_by_exception, roll_back_by_set_rollback])
def test_a_rolled_back_send_reaches_no_worker_and_no_device(platform, fcm, apns, roll_back):
    # The in-process send publishes to the suite's Redis, so this worker listens there.
    worker = platform.worker(redis_url=settings.REDIS_URL)
    channel = channel_create(owner=make_person().user, name="Boiler")
    ghost = make_person(platform="android", push_token="fcm-rolled-back")
    Device.objects.create(user=ghost.user, platform="ios", push_token="0b" * 32)
    witness = make_person(platform="android", push_token="fcm-committed")

    def request(person, text):
        return SendRequest(to=person.token, token=channel.token, secret=channel.secret, message=text)

    roll_back(request(ghost, "never happened"))
    committed, _ = message_send(request=request(witness, "did happen"))
    wait_until(lambda: undelivered([committed]) == 0 and Delivery.objects.filter(message_id=committed).exists(),
               30, "the committed message's push", [worker])

    # One queue, one worker process: a task queued by the rolled-back send would have run before this one.
    assert [p.token for p in seen_pushes(fcm, apns)] == ["fcm-committed"]
    assert len(re.findall(r"deliver_message\[[-0-9a-f]+\] received", worker.log())) == 1
    assert not Message.objects.filter(recipient=ghost.user).exists()
    assert not Delivery.objects.filter(device__user=ghost.user).exists()
