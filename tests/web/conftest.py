"""The web app in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real gunicorn.

Every page a test opens fails the test on a console error, an uncaught exception or a CSP violation.
"""

import json
import os
import shutil

import pytest
from django.conf import settings

from tests.procs import TcpProxy, database_url_for, free_port, http, start_gunicorn, start_stream

from tests.browser import CHROMIUM, CHROMIUM_ARGS  # the shared launch settings (Debian's chromium, flags)

WAIT_MS = 10_000  # how long a locator waits for the page; a wait, not a timing assertion
# Reports CSP violations in the console (Chromium logs most of them itself; this catches all).
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def pytest_collection_modifyitems(config, items):
    wanted = "screenshots" in (config.getoption("markexpr") or "")
    deselected = []
    for item in items:
        if "tests/web/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("screenshots") and not wanted:
            deselected.append(item)  # `make screenshots` writes files; the normal run leaves them alone
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture(scope="module")
def chromium():
    """Chromium driven with Playwright's sync API straight from the test thread, one per module.

    These tests drive pages step by step (locators, expect), which tests/browser.py's browser thread would
    wrap call by call. Playwright's sync API keeps an asyncio loop running in this thread while it is
    open, so Django's async guard is off for these modules only (their ORM calls stay synchronous, as
    pytest-playwright documents), and the loop is gone before any other module runs.
    """
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)")
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def site(request, site_env, django_db_setup, django_db_blocker, tmp_path_factory):
    """One gunicorn for the module's tests, on the test database (each test's transactional_db empties it).

    A test module may set SITE_ENV = {...} for settings of its own.
    """
    tmp = tmp_path_factory.mktemp("web")
    web_port = free_port()
    env = {
        "DATABASE_URL": database_url_for(),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": tmp / "media",
        "KILOPUSH_VAR_DIR": tmp / "var",
        "PORT": web_port,  # the stream answers CORS for the page's origin, http://127.0.0.1:PORT
        **site_env,
        **getattr(request.module, "SITE_ENV", {}),
    }
    stream = start_stream(tmp, **env)
    # The page reaches the stream through a proxy a test can cut (a dropped connection, a reconnect).
    proxy = TcpProxy(stream.port)
    server = start_gunicorn(
        tmp, port=web_port, WEB_CONCURRENCY=2, STREAM_URL=f"http://127.0.0.1:{proxy.port}/v1/app/stream", **env
    )
    server.media_root = tmp / "media"
    server.stream, server.stream_proxy, server.env = stream, proxy, env
    # Warm the workers up: a cold first request can take seconds on a loaded machine (imports, connections).
    for _ in range(2 * 2):
        http("GET", server.url + "/", timeout=60)
        http("GET", server.url + "/v1/app/config", timeout=60)
    yield server
    server.kill()
    proxy.close()
    stream.kill()


@pytest.fixture
def stream_proxy(site):
    yield site.stream_proxy
    site.stream_proxy.cut()
    site.stream_proxy.restore()


@pytest.fixture
def same_media(site, settings):
    """Logos stored by the test itself land where the site serves them from."""
    settings.MEDIA_ROOT = site.media_root


@pytest.fixture(scope="module")
def site_env():
    """Extra environment of the module's site (a module overrides this fixture, e.g. with the Web Push stand-in)."""
    return {}


class PageProblems:
    """Console errors, uncaught exceptions and CSP violations of every page of a context."""

    def __init__(self, allowed_http_errors):
        self.problems = []
        self.allowed_http_errors = allowed_http_errors

    def watch(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))

    def _console(self, msg):
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        # Chromium logs every 4xx answer of fetch() and every failed load; a test that provokes one says so.
        if msg.text.startswith("Failed to load resource: ") and any(
            text in msg.text and path in url for text, path in self.allowed_http_errors
        ):
            return
        self.problems.append(f"console: {msg.text} ({url})")

    def check(self):
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def allowed_http_errors():
    return []


@pytest.fixture
def allow_http_errors(allowed_http_errors):
    """allow_http_errors("/v1/...") : this test expects 4xx answers from that path (the page shows them)."""
    return lambda path: allowed_http_errors.append(("the server responded with a status of 4", path))


@pytest.fixture
def allow_dropped_stream(allowed_http_errors):
    """This test cuts the stream's connection: the open request ends unfinished, reconnects are refused."""
    for text in ("net::ERR_INCOMPLETE_CHUNKED_ENCODING", "net::ERR_CONNECTION_REFUSED", "net::ERR_CONNECTION_RESET",
                 "net::ERR_EMPTY_RESPONSE"):
        allowed_http_errors.append((text, "/v1/app/stream"))


@pytest.fixture
def allow_offline_errors(allowed_http_errors):
    """This test takes the browser offline: its loads fail with ERR_INTERNET_DISCONNECTED."""
    allowed_http_errors.append(("net::ERR_INTERNET_DISCONNECTED", ""))


@pytest.fixture
def new_context(chromium, site, transactional_db, allowed_http_errors):
    """new_context(**options) -> a browser context whose pages are watched; all are checked at the end."""
    contexts = []

    def _new(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "en-US")  # the page follows the browser's language (tests/web/test_i18n.py)
        options.setdefault("base_url", site.url)
        context = chromium.new_context(**options)
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(WATCH_CSP)
        problems = PageProblems(allowed_http_errors)
        context.on("page", problems.watch)
        contexts.append((context, problems))
        return context

    yield _new
    for context, problems in contexts:
        context.close()
    for context, problems in contexts:
        problems.check()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


def api(site, method, path, body=None, token=None):
    """Calls the API of the running site like any client; returns (HTTP status, JSON or None)."""
    import urllib.request

    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(site.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def send(site, **fields):
    return api(site, "POST", "/v1/messages/send", fields)


def send_keys(site, channel_token, access_token):
    """The channel's send keys as its owner's API lists them (never the keys themselves)."""
    status, body = api(site, "GET", f"/v1/app/channels/{channel_token}/keys", token=access_token)
    assert status == 200, body
    return body["keys"]


__all__ = ["api", "send", "send_keys", "http", "WAIT_MS"]
