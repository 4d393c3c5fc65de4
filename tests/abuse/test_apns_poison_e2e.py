"""The poison token of issue 16 (item 2), end to end: the send API, a real `celery worker` and the APNs stand-in.

A device registered before tokens were checked holds "ab\\r\\ncd". Pushed in the same batch
as 30 other users' pushes, it must fail alone: every other delivery is accepted at its first
attempt, and the poison one ends invalid_token at once instead of retrying for ever.
"""

import pytest

from messaging.models import Delivery
from tests.people import make_person
from tests.delivery.test_delivery_e2e import sender, start_worker, wait_for_states  # noqa: F401  (fixtures)
from users_app.models import Device

pytestmark = pytest.mark.slow
POISON = "ab\r\ncd"


def test_a_poison_token_fails_alone_and_ends_invalid(start_worker, sender, apns):
    apns.script.set_default("ok", latency=0.2)  # keeps the batch's streams in flight together
    others = [make_person(platform="ios", push_token=f"{i:064x}") for i in range(1, 31)]
    victim = make_person(platform="ios")
    Device.objects.filter(user=victim.user).update(push_token=POISON)  # stored before tokens were checked
    ids = [sender(person) for person in others[:15]] + [sender(victim)] + [sender(p) for p in others[15:]]
    worker = start_worker()
    for message_id in ids:
        expected = Delivery.INVALID_TOKEN if message_id == ids[15] else Delivery.ACCEPTED
        wait_for_states(message_id, [expected], [worker])
    rows = Delivery.objects.filter(message_id__in=ids).select_related("device")
    assert {row.attempts for row in rows} == {1}, [(row.device.push_token, row.attempts, row.last_error) for row in rows]
    poison = Delivery.objects.get(message_id=ids[15])
    assert "BadDeviceToken" in poison.last_error
    device = Device.objects.get(user=victim.user)
    assert not device.is_active and "BadDeviceToken" in device.deactivation_reason
    assert len(apns.script.pushes) == 30 and apns.script.connections == 1
