"""The stream process under abuse (issue 23): per-account and per-address caps counted across processes in
Redis (in the process when embedded), the client address by TRUSTED_PROXY_COUNT's rule only, and a Host
outside ALLOWED_HOSTS answered 400. Each test starts real stream processes (uvicorn, as the Procfile does)."""

import http.client
import json
import logging
import random
import time

import pytest
from django.conf import settings

from tests.people import make_person
from tests.procs import database_url_for, start_stream

pytestmark = pytest.mark.django_db(transaction=True)


class Opened:
    """One GET /v1/app/stream: status, headers and, unless it is held open (200), the envelope."""

    def __init__(self, port, access_token, source="127.0.0.1", headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
        self.conn.request("GET", "/v1/app/stream", headers={"Authorization": f"Bearer {access_token}", **(headers or {})})
        response = self.conn.getresponse()
        self.status, self.headers = response.status, response.headers
        self.body = None if self.status == 200 else json.loads(response.read())

    def code(self):
        return self.body["response"]["status"] if self.body else 200

    def close(self):
        self.conn.close()


@pytest.fixture
def opened():
    held = []

    def _open(*args, **kwargs):
        held.append(Opened(*args, **kwargs))
        return held[-1]

    yield _open
    for stream in held:
        stream.close()


def a_source():
    """A loopback address of this test's own: the per-address count is not shared with other tests' streams."""
    return f"127.{random.randint(20, 250)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def redis_env(**env):
    return {"DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL, **env}


@pytest.fixture
def capped(tmp_path):
    proc = start_stream(tmp_path, **redis_env(STREAM_MAX_PER_ACCOUNT=2, STREAM_MAX_PER_ADDRESS=3))
    yield proc
    proc.kill()


def test_past_the_per_account_cap_a_stream_is_refused_with_4029_and_retry_after(capped, opened, bob):
    source = a_source()
    assert [opened(capped.port, bob.access_token, source).status for _ in range(2)] == [200, 200]
    refused = opened(capped.port, bob.access_token, a_source())  # another address: the account is full
    assert (refused.status, refused.code()) == (429, 4029)
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["Content-Type"] == "application/json"


def test_a_closed_stream_frees_its_place(capped, opened, bob):
    source = a_source()
    first = opened(capped.port, bob.access_token, source)
    opened(capped.port, bob.access_token, source)
    first.close()
    wait_until(lambda: opened(capped.port, bob.access_token, source).status == 200, 10, "a place after a close")


def test_past_the_per_address_cap_a_stream_is_refused_whatever_the_account(capped, opened):
    source = a_source()
    people = [make_person() for _ in range(3)]
    assert [opened(capped.port, p.access_token, source).status for p in people[:2]] == [200, 200]
    assert opened(capped.port, people[2].access_token, source).status == 200
    refused = opened(capped.port, make_person().access_token, source)
    assert (refused.status, refused.code()) == (429, 4029) and "address" in refused.body["response"]["message"]
    assert opened(capped.port, make_person().access_token, a_source()).status == 200  # another address


def test_a_forged_x_forwarded_for_does_not_make_another_address(capped, opened):
    """TRUSTED_PROXY_COUNT=0: the peer's address, whatever the header says (uvicorn's proxy headers are off:
    they believed the header from 127.0.0.1)."""
    source = "127.0.0.1"
    statuses = [opened(capped.port, make_person().access_token, source,
                       {"X-Forwarded-For": f"203.0.113.{i}", "Forwarded": f"for=203.0.113.{i}"}).status
                for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_behind_one_trusted_proxy_the_address_is_the_one_it_appended(tmp_path, opened):
    proc = start_stream(tmp_path, **redis_env(STREAM_MAX_PER_ADDRESS=1, TRUSTED_PROXY_COUNT=1))
    try:
        client = f"198.51.100.{random.randint(1, 254)}"
        assert opened(proc.port, make_person().access_token, headers={"X-Forwarded-For": client}).status == 200
        forged = opened(proc.port, make_person().access_token, headers={"X-Forwarded-For": f"10.9.9.9, {client}"})
        assert forged.status == 429  # the left entry was written by the client
        assert opened(proc.port, make_person().access_token, headers={"X-Forwarded-For": "192.0.2.7"}).status == 200
    finally:
        proc.kill()


def test_the_caps_count_across_stream_processes(tmp_path, opened, bob):
    first = start_stream(tmp_path, **redis_env(STREAM_MAX_PER_ACCOUNT=2))
    second = start_stream(tmp_path, **redis_env(STREAM_MAX_PER_ACCOUNT=2))
    try:
        assert opened(first.port, bob.access_token, a_source()).status == 200
        assert opened(second.port, bob.access_token, a_source()).status == 200
        assert opened(first.port, bob.access_token, a_source()).status == 429
        assert opened(second.port, bob.access_token, a_source()).status == 429
    finally:
        first.kill()
        second.kill()


def test_a_killed_processs_streams_stop_counting_when_their_lease_ends(tmp_path, opened, bob):
    env = redis_env(STREAM_MAX_PER_ACCOUNT=2, STREAM_LEASE_SECONDS=3)
    survivor = start_stream(tmp_path, **env)
    doomed = start_stream(tmp_path, **env)
    try:
        held = opened(survivor.port, bob.access_token, a_source())
        assert opened(doomed.port, bob.access_token, a_source()).status == 200
        assert opened(survivor.port, bob.access_token, a_source()).status == 429
        time.sleep(4)  # past a lease: the survivor's stream is renewed, the doomed one's too while it lives
        assert opened(survivor.port, bob.access_token, a_source()).status == 429
        doomed.kill()  # SIGKILL: nothing tells Redis
        wait_until(lambda: opened(survivor.port, bob.access_token, a_source()).status == 200, 15,
                   "the killed process's stream to expire")
        assert held.status == 200
        assert opened(survivor.port, bob.access_token, a_source()).status == 429  # the new one is counted
    finally:
        survivor.kill()
        doomed.kill()


def test_without_redis_the_caps_are_counted_in_the_process(tmp_path, opened, bob):
    proc = start_stream(tmp_path, DATABASE_URL=database_url_for(), STREAM_MAX_PER_ACCOUNT=2)
    try:
        source = a_source()
        assert [opened(proc.port, bob.access_token, source).status for _ in range(3)] == [200, 200, 429]
        assert "Stream caps: Redis" not in proc.log()
    finally:
        proc.kill()


def test_past_the_per_process_cap_a_stream_is_refused(tmp_path, opened):
    proc = start_stream(tmp_path, **redis_env(STREAM_MAX_PER_PROCESS=2))
    try:
        statuses = [opened(proc.port, make_person().access_token, a_source()).status for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        proc.kill()


def test_a_host_outside_allowed_hosts_is_a_400_envelope_logged_without_a_traceback(tmp_path, opened, bob):
    proc = start_stream(tmp_path, **redis_env(ALLOWED_HOSTS="127.0.0.1,localhost"))
    try:
        answer = opened(proc.port, bob.access_token, headers={"Host": "evil.example"})
        assert (answer.status, answer.code()) == (400, 4000)
        assert opened(proc.port, bob.access_token, headers={"Host": "localhost"}).status == 200
        time.sleep(0.5)
        log = proc.log()
        assert "evil.example" in log  # logged, as a warning
        assert "Traceback" not in log and f" {logging.getLevelName(logging.ERROR)} " not in log, log
    finally:
        proc.kill()
