"""A throttled registration (4029) is said in plain words, with its wait."""

import re

from playwright.sync_api import expect

from tests.web.helpers import register

SITE_ENV = {"APP_REGISTER_RATE": "1/h"}


def test_a_throttled_registration_says_when_to_try_again(new_context, allow_http_errors):
    allow_http_errors("/v1/app/register")
    register(new_context().new_page())
    page = new_context().new_page()
    page.goto("/")
    page.get_by_role("button", name="Create my inbox").click()
    expect(page.locator("main .form-status").first).to_have_text(
        re.compile(r"^Too many attempts from this network\. Try again in \d+ minutes\.$")
    )
    expect(page.get_by_role("button", name="Create my inbox")).to_be_enabled()
