"""The embedded default's broker (kilopush/embedded_broker.py): the spool wakes its consumer.

A consumer waits with a poll interval far longer than the test's wait, so plain kombu
polling would still be asleep when the test gives up: only the wake-up delivers in time.
"""

import socket
import threading
import time
import uuid

import pytest
from kombu import Connection, Exchange, Queue

from kilopush import embedded_broker

WAIT = 30.0  # a wait, not a performance bound: the consumer's own wait is 120 s


def connection(tmp_path, **options):
    spool = tmp_path / "broker"
    spool.mkdir(exist_ok=True)
    return Connection(
        "filesystem://",
        transport="kilopush.embedded_broker:Transport",
        transport_options={"data_folder_in": str(spool), "data_folder_out": str(spool),
                           "control_folder": str(tmp_path / "control"), **options},
    )


def consume_one(conn, queue, timeout):
    """Waits for one message (one drain_events call, as Celery's loop makes); returns its body or None."""
    received = []
    with conn.Consumer(queue, callbacks=[lambda body, message: (received.append(body), message.ack())]):
        try:
            conn.drain_events(timeout=timeout)
        except socket.timeout:
            pass
    return received[0] if received else None


@pytest.fixture
def queue():
    # kombu keeps the filesystem transport's bindings in a process-wide state: one name per test.
    name = f"wake-test-{uuid.uuid4().hex[:8]}"
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def test_a_published_message_wakes_a_waiting_consumer_before_its_poll(tmp_path, queue):
    # Without the wake-up this consumer would look again only when its 120 s wait ends.
    consumer = connection(tmp_path, polling_interval=3600)
    publisher = connection(tmp_path)
    consumer.Consumer(queue).declare()
    result = {}
    waiting = threading.Thread(target=lambda: result.setdefault("body", consume_one(consumer, queue, timeout=120)),
                               daemon=True)
    waiting.start()
    # The consumer listens before its first look; a send after that always leaves a wake-up.
    for _ in range(200):
        if embedded_broker._listeners.get(embedded_broker.wake_address(str(tmp_path / "broker"))):
            break
        threading.Event().wait(0.05)
    publisher.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])
    waiting.join(WAIT)
    assert not waiting.is_alive(), "the consumer slept through the message"
    assert result["body"] == {"n": 1}
    consumer.release()
    publisher.release()


def test_without_the_wake_up_the_consumer_still_polls_the_spool(tmp_path, queue):
    consumer = connection(tmp_path, polling_interval=0.05, wakeup=False)
    publisher = connection(tmp_path, wakeup=False)
    consumer.Consumer(queue).declare()
    publisher.Producer().publish({"n": 2}, exchange=queue.exchange, routing_key=queue.routing_key, declare=[queue])
    assert consume_one(consumer, queue, timeout=20) == {"n": 2}
    assert embedded_broker.wake_address(str(tmp_path / "broker")) not in embedded_broker._listeners
    consumer.release()
    publisher.release()


def test_the_wake_up_address_belongs_to_one_spool(tmp_path):
    assert embedded_broker.wake_address(str(tmp_path / "a")) != embedded_broker.wake_address(str(tmp_path / "b"))


def test_an_ack_wakes_a_consumer_whose_prefetch_was_full(tmp_path, queue):
    # A burst: the consumer holds one unacked message (prefetch 1) when the next arrives, so its look
    # finds nothing it may take and it waits; the wake-up datagram is drained meanwhile. Only the ack
    # can tell it to look again: its poll is an hour away.
    consumer = connection(tmp_path, polling_interval=3600)
    publisher = connection(tmp_path)
    received = []
    with consumer.Consumer(queue, callbacks=[lambda body, message: received.append(message)]) as c:
        c.qos(prefetch_count=1)
        for n in (1, 2):
            publisher.Producer().publish({"n": n}, exchange=queue.exchange, routing_key=queue.routing_key,
                                         declare=[queue])
        consumer.drain_events(timeout=WAIT)
        # One of the two (the spool orders files by name: two in the same millisecond in either order).
        assert len(received) == 1
        # Celery acks from its result handler thread while the consumer waits in drain_events.
        threading.Timer(0.5, received[0].ack).start()
        started = time.monotonic()
        consumer.drain_events(timeout=WAIT)  # without the wake, it looks again only when this wait ends
        assert time.monotonic() - started < WAIT / 2, "the ack did not wake the consumer"
        assert sorted(m.payload["n"] for m in received) == [1, 2]
        received[1].ack()
    consumer.release()
    publisher.release()
