"""The stream process and operations: a staff-blocked account's streams close (and it cannot open one), and
kilopush_streams_open counts the open streams, read from the metric files the stream process writes."""

import json
import time

import pytest
from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from tests.procs import database_url_for, start_stream
from tests.stream_support import SseClient
from users_app.services import app_user_set_blocked

pytestmark = pytest.mark.django_db(transaction=True)


def streams_open(directory):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(directory))
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        if family.name == "kilopush_streams_open":
            return sum(sample.value for sample in family.samples)
    return None


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def stream(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    proc = start_stream(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL,
                        PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    proc.metrics_dir = metrics_dir
    yield proc
    proc.kill()


def test_blocking_an_account_closes_its_streams_and_refuses_new_ones(stream, bob, alice):
    url = stream.url + "/v1/app/stream"
    sse, other = SseClient(url, bob.access_token), SseClient(url, alice.access_token)
    try:
        sse.wait_for(lambda c: c.comments, what="the opening comment")
        blocked = time.monotonic()
        app_user_set_blocked(user=bob.user, blocked=True)
        sse.wait_for(lambda c: c.ended is not None, timeout=5, what="the blocked account's stream to close")
        assert sse.ended - blocked < 5
        assert other.ended is None
        refused = SseClient(url, bob.access_token)
        assert refused.status == 403 and json.loads(refused.body)["response"]["status"] == 4023
    finally:
        sse.close()
        other.close()


def test_streams_open_counts_the_open_streams(stream, bob, alice):
    url = stream.url + "/v1/app/stream"
    assert streams_open(stream.metrics_dir) in (None, 0)
    first, second = SseClient(url, bob.access_token), SseClient(url, alice.access_token)
    try:
        first.wait_for(lambda c: c.comments, what="the first stream")
        second.wait_for(lambda c: c.comments, what="the second stream")
        wait_for(lambda: streams_open(stream.metrics_dir) == 2, 5, "kilopush_streams_open == 2")
        first.close()
        wait_for(lambda: streams_open(stream.metrics_dir) == 1, 10, "kilopush_streams_open == 1")
    finally:
        first.close()
        second.close()
    wait_for(lambda: streams_open(stream.metrics_dir) == 0, 10, "kilopush_streams_open == 0")
