"""The shell: security headers, the installable pieces, offline, 360 px, keyboard, the staff admin's link."""

import json

import pytest
from playwright.sync_api import expect

from channels_app.services import channel_create
from tests.procs import http
from tests.web.conftest import api, send
from tests.web.helpers import create_channel, register, wait_for_service_worker
from users_app.models import AppUser

SCREENS = ["#/inbox", "#/channels", "#/blocked", "#/settings"]


def test_the_page_has_a_strict_content_security_policy(site):
    status, headers, body = http("GET", site.url + "/")
    assert status == 200
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    html = body.decode()
    assert "<script>" not in html and " style=" not in html and " on" + "click=" not in html


def test_nothing_is_loaded_from_another_origin(page, site):
    origins = set()
    page.on("request", lambda request: origins.add(request.url.split("/")[2]))
    register(page)
    create_channel(page, "Local")
    page.locator("#nav").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    own = {site.url.split("/")[2]}
    status, config = api(site, "GET", "/v1/app/config")
    if status == 200:  # the platform's own stream, on its second port (allowed by the CSP's connect-src)
        own.add(config["stream_url"].split("/")[2])
    assert origins <= own and site.url.split("/")[2] in origins


def test_the_manifest_and_icons_make_it_installable(site):
    status, headers, body = http("GET", site.url + "/manifest.webmanifest")
    assert status == 200 and headers["Content-Type"] == "application/manifest+json"
    manifest = json.loads(body)
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        status, headers, _ = http("GET", site.url + icon["src"])
        assert status == 200 and headers["Content-Type"] == "image/png"


def test_the_service_worker_is_served_at_the_root(site):
    status, headers, body = http("GET", site.url + "/sw.js")
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "no-cache"
    assert b'const SHELL = ["/", ' in body


def test_the_page_opens_offline_and_says_it_is_offline(new_context, allow_offline_errors):
    context = new_context()
    page = context.new_page()
    register(page)
    wait_for_service_worker(page)
    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    expect(page.locator("#banner")).to_contain_text("You are offline")
    context.set_offline(False)
    expect(page.locator("#banner")).to_be_hidden()


@pytest.mark.parametrize("screen", SCREENS)
def test_every_screen_fits_360_px(new_context, site, screen, tmp_path):
    page = new_context(viewport={"width": 360, "height": 740}).new_page()
    stored = register(page)
    channel = channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name="A rather long channel name here")
    send(site, to=stored["user_token"], token=channel.token, secret=channel.secret,
         message="x" * 300, url="https://example.com/" + "a" * 200)
    page.goto("/" + screen)
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("#nav")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{screen} is {width} px wide"
    for link in page.locator("#nav a").all():
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360


def test_a_channel_page_fits_360_px(new_context):
    page = new_context(viewport={"width": 360, "height": 740}).new_page()
    register(page)
    create_channel(page, "Narrow")
    page.get_by_role("button", name="Show").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_the_first_screen_works_from_the_keyboard(page):
    page.goto("/")
    expect(page.get_by_role("button", name="Create my inbox")).to_be_visible()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "create-inbox":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your inbox is ready")).to_be_visible()


def test_dark_mode_follows_the_system(new_context):
    page = new_context(color_scheme="dark").new_page()
    page.goto("/")
    expect(page.get_by_role("button", name="Create my inbox")).to_be_visible()
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    light_page = new_context(color_scheme="light").new_page()
    light_page.goto("/")
    light = light_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light
    assert sum(int(c) for c in dark[4:-1].split(",")) < 150


def test_the_admin_names_the_platform_and_view_site_leads_to_the_app(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert "KILO.Push administration" in body
    assert 'href="/"' in body
