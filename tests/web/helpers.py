"""Steps the browser tests share: what a person does on the page."""

import re

from playwright.sync_api import expect


def register(page):
    """A fresh browser creates its inbox; returns the access and User Tokens it keeps."""
    page.goto("/")
    page.get_by_role("button", name="Create my inbox").click()
    expect(page.get_by_role("heading", name="Your inbox is ready")).to_be_visible()
    page.get_by_role("button", name="Open my inbox").click()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    return tokens(page)


def wait_until_live(page):
    """Until the inbox receives live updates (the stream, or polling on a server without one)."""
    expect(page.locator("#live-state")).to_have_attribute("data-mode", re.compile(r"^(live|polling)$"))


def tokens(page):
    stored = page.evaluate("() => [localStorage.getItem('kp.access_token'), localStorage.getItem('kp.user_token')]")
    return {"access_token": stored[0], "user_token": stored[1]}


def create_channel(page, name, logo_path=None):
    """Creates a channel from the Channels screen and returns it as the API shows it."""
    page.locator("#nav").get_by_role("link", name="Channels").click()
    page.get_by_label("Name").fill(name)
    if logo_path:
        page.locator("#create-channel input[type=file]").set_input_files(str(logo_path))
    page.get_by_role("button", name="Create channel").click()
    expect(page.locator("h1.channel-name")).to_have_text(name)
    token = re.search(r"#/channels/(c_[0-9a-f]+)", page.url).group(1)
    return token


def message(page, text):
    return page.locator("article.msg", has=page.locator("p.text", has_text=text))


def wait_for_service_worker(page):
    """Until the service worker controls the page (it claims it once the shell is kept).

    page.evaluate, not wait_for_function: the latter evaluates strings in the page, which the CSP forbids.
    """
    page.evaluate(
        """() => navigator.serviceWorker.controller || new Promise((resolve) =>
            navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }))"""
    )
