"""A real headless Chromium for tests (the system's /usr/bin/chromium driven by Playwright, no browser download).

Fixtures: `chromium` (one browser per test session), `browser_page` (a fresh page per test)
and `other_origin` (a tiny static web server on another port: pages served from it are
cross-origin to the gunicorn under test). Import them into a test module to use them.
"""

import functools
import http.server
import os
import shutil
import threading

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


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), "Chromium is needed: apt-get install -y chromium (make test installs it)"
    # Playwright's sync API keeps an asyncio loop in this thread, which Django then takes for an
    # async context and refuses database calls from the tests (and their fixtures) in.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.console_messages = messages  # what the page logged, for assertion messages
    yield page
    context.close()


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
