"""A fresh browser: creating an inbox, the page's security headers, the shell's pieces."""

import pytest
from playwright.sync_api import expect

from tests.web.conftest import api
from tests.web.helpers import register
from users_app.models import AppUser


def test_create_my_inbox_registers_a_web_install_and_opens_the_inbox_afterwards(page, site):
    stored = register(page)
    user = AppUser.objects.get(token=stored["user_token"])
    assert user.devices.get().platform == "web"
    assert api(site, "GET", "/v1/app/me", token=stored["access_token"])[0] == 200
    page.reload()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Create my inbox")).to_have_count(0)


def test_the_ready_screen_shows_the_user_token_with_copy_and_qr(page):
    page.goto("/")
    page.get_by_role("button", name="Create my inbox").click()
    token = page.locator("#user-token").text_content()
    assert token.startswith("u_")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.locator("canvas.qr")).to_have_attribute("data-text", token)
