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
    # django-ratelimit's hour starts at an offset hashed from the client's key, so what is left of it is anywhere
    # from a second to an hour: under 90 s the page counts seconds (2.5% of runs; CI once saw "41 seconds").
    expect(page.locator("main .form-status").first).to_have_text(
        re.compile(r"^Too many attempts from this network\. Try again in \d+ (minutes|seconds?)\.$")
    )
    expect(page.get_by_role("button", name="Create my inbox")).to_be_enabled()
