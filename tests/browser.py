"""A real headless Chromium for tests (the system's /usr/bin/chromium driven by Playwright, no browser download).

Fixtures: `chromium` (one browser per test session), `browser_page` (a fresh page per test)
and `other_origin` (a tiny static web server on another port: pages served from it are
cross-origin to the gunicorn under test). Import them into a test module to use them.
"""

import functools
import http.server
import queue
import shutil
import threading
from concurrent.futures import Future

import pytest

from tests.procs import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserThread:
    """Chromium driven from a thread of its own.

    Playwright's sync API runs an asyncio loop in the thread that uses it; in the test thread
    that loop would make Django refuse database calls (an "async context") and break the tests
    that run their own event loop (the APNs stand-in). So every Playwright call runs here.
    """

    def __init__(self):
        self._calls = queue.Queue()
        ready = Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.result(timeout=60)

    def _serve(self, ready):
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                ready.set_result(True)
                while (call := self._calls.get()) is not None:
                    function, result = call
                    try:
                        result.set_result(function(browser))
                    except BaseException as exc:  # handed to the test thread
                        result.set_exception(exc)
                browser.close()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)

    def run(self, function, timeout=60):
        """function(browser), run in the browser's thread; its result or exception."""
        result = Future()
        self._calls.put((function, result))
        return result.result(timeout=timeout)

    def close(self):
        self._calls.put(None)
        self._thread.join(30)


class PageInThread:
    """A Playwright page used from the test thread: page.goto(...), page.evaluate(...), page.screenshot(...)
    run in the browser's thread; page.run(lambda page: ...) for anything else (locators and the like)."""

    def __init__(self, browser_thread, page):
        self._browser_thread, self._page = browser_thread, page
        self.console_messages = []  # what the page logged, for assertion messages
        browser_thread.run(lambda _: page.on("console", lambda message: self.console_messages.append(message.text)))

    def run(self, function, timeout=60):
        return self._browser_thread.run(lambda _: function(self._page), timeout)

    def __getattr__(self, name):
        value = self.run(lambda page: getattr(page, name))
        if not callable(value):
            return value
        return lambda *args, **kwargs: self.run(lambda page: getattr(page, name)(*args, **kwargs))


@pytest.fixture(scope="session")
def chromium():
    assert shutil.which(CHROMIUM), "Chromium is needed: apt-get install -y chromium (make test installs it)"
    browser_thread = BrowserThread()
    yield browser_thread
    browser_thread.close()


@pytest.fixture
def browser_page(chromium):
    page = chromium.run(lambda browser: browser.new_context().new_page())
    yield PageInThread(chromium, page)
    chromium.run(lambda _: page.context.close())


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def other_origin(tmp_path):
    """(base URL, folder): a static server on http://localhost:<free port> serving the folder's files."""
    folder = tmp_path / "site"
    folder.mkdir()
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}", folder
    server.shutdown()
    server.server_close()
