"""A malformed APNs token must not break the pushes that share its HTTP/2 connection (issue 16, item 2)."""

from messaging.providers import get_provider
from messaging.providers.base import Outcome, Push


def push(token, delivery_id=1):
    return Push(delivery_id=delivery_id, token=token, title="Alarms", body="Door bell", data={"message_id": "7"},
                collapse_id="7")


def test_a_poison_token_fails_no_other_push_of_its_batch(push_settings, apns):
    apns.script.set_default("ok", latency=0.3)
    pushes = [push(f"{i:064x}", i) for i in range(1, 31)]
    pushes.insert(10, push("ab\r\ncd", 99))
    results = get_provider("ios").send(pushes)
    outcomes = [r.outcome for r in results]
    assert outcomes[10] is Outcome.INVALID_TOKEN, results[10]
    assert outcomes[:10] + outcomes[11:] == [Outcome.ACCEPTED] * 30, results
    assert len(apns.script.pushes) == 30
