"""Real clients no one here wrote (Apprise's gotify:// and ntfy://, curl's raw body) against a real gunicorn,
whose access log must show no key."""

import time
import urllib.request

import apprise
import pytest

from tests.integrations.support import inbox, new_key
from tests.rawhttp import chunked, exchange, gunicorn, head

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web_logged(django_db_setup, django_db_blocker, tmp_path_factory):
    """One gunicorn as the Procfile runs it, with its access log on (WEB_ACCESS_LOG=1)."""
    server = gunicorn(tmp_path_factory.mktemp("web"), WEB_ACCESS_LOG=1, WEB_CONCURRENCY=1)
    yield server
    server.kill()


@pytest.fixture
def live_key(web_logged, transactional_db, channel, bob):
    return new_key(channel, bob)


def host_port(server):
    return server.url.removeprefix("http://")


def notify(url, **message):
    sender = apprise.Apprise()
    assert sender.add(url), url
    return sender.notify(**message)


def test_apprise_sends_through_gotify(web_logged, live_key, bob):
    assert notify(f"gotify://{host_port(web_logged)}/{live_key}", title="Backup", body="Done at 03:00")
    [item] = inbox(bob)
    assert (item["title"], item["message"]) == ("Backup", "Done at 03:00")


def test_apprise_sends_through_ntfy(web_logged, live_key, bob):
    assert notify(f"ntfy://{host_port(web_logged)}/{live_key}?priority=high", title="Disk", body="Full at 91%")
    [item] = inbox(bob)
    assert (item["title"], item["message"], item["important"]) == ("Disk", "Full at 91%", True)


def test_curls_raw_body_reaches_the_hook(web_logged, live_key, bob):
    # what `curl -d "Backup done at 03:00 & ok" URL` sends
    request = urllib.request.Request(f"{web_logged.url}/v1/hooks/{live_key}", data=b"Backup done at 03:00 & ok",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    assert [item["message"] for item in inbox(bob)] == ["Backup done at 03:00 & ok"]


def test_the_access_log_shows_keys_masked(web_logged, live_key):
    for path in (f"/{live_key}", f"/v1/hooks/{live_key}", f"/message?token={live_key}"):
        request = urllib.request.Request(f"{web_logged.url}{path}", data=b"m", headers={"Content-Type": "text/plain"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError:
            pass
    masked = f"k_…{live_key[-4:]}"
    deadline = time.monotonic() + 10
    while web_logged.log().count(masked) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = web_logged.log()
    assert log.count(masked) >= 3, log[-2000:]
    assert live_key not in log and live_key[2:] not in log


@pytest.mark.parametrize("path", ["/KEY", "/v1/hooks/KEY", "/message?token=KEY", "/"])
def test_a_huge_header_or_an_oversized_body_is_refused_never_a_500(web_logged, live_key, bob, path):
    path = path.replace("KEY", live_key)
    status, _, _ = exchange(web_logged, head("POST", path, {"X-Title": "t" * 9000, "Content-Length": "1",
                                                            "Connection": "close"}) + b"m")
    assert status == 431  # gunicorn: Request Header Fields Too Large (limit_request_field_size)
    big = b"x" * (64 * 1024 + 1)
    status, _, _ = exchange(web_logged, head("POST", path, {"Content-Length": str(len(big)), "Connection": "close",
                                                            "Content-Type": "text/plain"}) + big)
    assert status in (400, 413)
    status, _, _ = exchange(web_logged, head("POST", path, {"Transfer-Encoding": "chunked", "Connection": "close",
                                                            "Content-Type": "text/plain"}) + chunked(big, 8192))
    assert status in (400, 413)
    assert inbox(bob) == []
