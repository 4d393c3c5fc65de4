"""Screenshots of every screen at 360x740 and 1280x800, light and dark: `make screenshots` (var/screenshots/).

Not part of the normal run (deselected unless `-m screenshots` is given): it writes files for people to look at.
"""

from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from django.db import transaction
from django.utils import timezone

from channels_app.models import SendKey
from channels_app.services import channel_create, send_key_create
from messaging.models import Message
from tests.web.conftest import send
from tests.web.helpers import message, register
from users_app.models import AppUser
from users_app.services import access_token_create, blacklist_add, link_code_create

pytestmark = pytest.mark.screenshots
OUT = Path(settings.BASE_DIR) / "var" / "screenshots"
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}


def logo_upload(path, color):
    image = Image.new("RGB", (256, 256), color)
    draw = ImageDraw.Draw(image)
    draw.ellipse([56, 56, 200, 200], fill=(255, 255, 255))
    draw.ellipse([96, 96, 160, 160], fill=color)
    image.save(path)
    return path


def seed(site, user_token, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = AppUser.objects.get(token=user_token)
    channels = {}
    for name, color in (("Front door", (31, 111, 235)), ("Nightly backups", (26, 127, 55)), ("CI builds", (198, 40, 40))):
        upload = SimpleUploadedFile("logo.png", logo_upload(tmp_path / f"{color}.png", color).read_bytes())
        channels[name] = channel_create(owner=user, name=name, logo=upload if name != "CI builds" else None)
    spam = channel_create(owner=AppUser.objects.create(), name="Daily deals")
    blacklist_add(user=user, channel=spam)
    for name, text, extra in (
        ("CI builds", "3 tests failed in tests/web.", {"url": "https://ci.example.com/builds/512", "title": "Build #512 of main failed"}),
        ("Nightly backups", "Backup of db-2 took longer than usual (41 min).", {}),
        ("Front door", "<img src=x onerror=alert(1)> is shown as text, never as HTML.", {}),
        ("Front door", "Someone rang the bell.", {"important": 1}),
        ("Nightly backups", "12.4 GB in 6 min 12 s.", {"title": "Backup finished"}),
    ):
        channel = channels[name]
        status, body = send(site, to=user_token, token=channel.token, secret=channel.secret, message=text, **extra)
        assert status == 200, body
    send_rich(site, user_token, channels)
    first_two = Message.objects.filter(recipient=user).order_by("id")[:2]
    Message.objects.filter(pk__in=[m.pk for m in first_two]).update(read_at="2026-01-01T00:00:00Z")
    with transaction.atomic():
        grafana, _ = send_key_create(channel=channels["Front door"], recipient=user, label="Grafana alerts")
        send_key_create(channel=channels["Front door"], recipient=AppUser.objects.create(), label="Bob's phone")
    SendKey.objects.filter(pk=grafana.pk).update(last_used_at=timezone.now())
    return channels


def door_snapshot():
    """A door camera's picture: a wall, a door, a visitor, and the camera's time stamp (a JPEG, like cameras send)."""
    import io

    image = Image.new("RGB", (1280, 960), (188, 196, 204))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 760, 1280, 960], fill=(120, 110, 100))  # the floor
    draw.rectangle([430, 160, 850, 800], fill=(110, 62, 34))  # the door
    draw.rectangle([460, 190, 820, 470], outline=(80, 44, 24), width=10)
    draw.ellipse([780, 480, 810, 510], fill=(230, 190, 60))  # the handle
    draw.ellipse([230, 300, 390, 460], fill=(240, 200, 170))  # the visitor
    draw.rectangle([200, 460, 420, 860], fill=(40, 90, 160))
    draw.rectangle([960, 560, 1160, 760], fill=(170, 130, 80))  # a parcel
    draw.rectangle([0, 0, 1280, 56], fill=(0, 0, 0))
    draw.text((20, 14), "CAM-1  FRONT DOOR  2026-12-06 20:41:07", fill=(255, 255, 255), font_size=28)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def send_rich(site, user_token, channels):
    """The newest two messages: a door camera's picture and a Markdown alert (issue 25)."""
    import requests

    door, ci = channels["Front door"], channels["CI builds"]
    response = requests.post(site.url + "/v1/messages/send", timeout=30, files={
        "attachment": ("snapshot.jpg", door_snapshot(), "image/jpeg")}, data={
        "to": user_token, "token": door.token, "secret": door.secret, "message": "Motion at the front door."})
    assert response.json()["response"]["status"] == 200, response.text
    markdown = ("**Firing**: build #513 of `main` failed\n\n- 2 tests failed in *tests/web*\n- took 14 min\n\n"
                "> AssertionError: expected 200\n\n[Open the build](https://ci.example.com/builds/513)")
    status, body = send(site, to=user_token, token=ci.token, secret=ci.secret, message=markdown, format="markdown")
    assert status == 200, body


def send_emergency(site, user_token, channels):
    """The newest message: an emergency with a title and two actions (issue 24), until acknowledged."""
    door = channels["Front door"]
    actions = [{"type": "view", "label": "Open the camera", "url": "https://cam.example.com/front"},
               {"type": "callback", "label": "Open the door", "id": "open_door"}]
    status, body = send(site, to=user_token, token=door.token, secret=door.secret, title="Smoke in the hallway",
                        message="The hallway detector fired at 20:41.", priority=2, retry=60, expire=3600,
                        actions=actions)
    assert status == 200, body


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots(new_context, site, same_media, tmp_path, size, scheme):
    OUT.mkdir(parents=True, exist_ok=True)
    page = new_context(viewport=SIZES[size], color_scheme=scheme).new_page()

    def shot(name, full_page=False):
        if full_page:
            page.evaluate("window.scrollTo(0, 0)")  # else the sticky header is drawn where the page was scrolled to
        page.wait_for_timeout(300)  # let images decode and the toast settle
        suffix = "" if scheme == "light" else "-dark"
        page.screenshot(path=str(OUT / f"{name}-{SIZES[size]['width']}x{SIZES[size]['height']}{suffix}.png"), full_page=full_page)

    page.goto("/")
    expect(page.get_by_role("button", name="Create my inbox")).to_be_visible()
    shot("welcome")
    page.get_by_role("button", name="I have a link code").click()
    shot("welcome-link-code")
    page.get_by_role("button", name="Create my inbox").click()
    expect(page.get_by_role("heading", name="Your inbox is ready")).to_be_visible()
    shot("ready")
    page.get_by_role("button", name="Open my inbox").click()
    user_token = page.evaluate("localStorage.getItem('kp.user_token')")
    channels = seed(site, user_token, tmp_path)
    send_emergency(site, user_token, channels)
    page.reload()
    expect(message(page, "Someone rang the bell.")).to_be_visible()
    expect(page.locator("img.thumb")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_be_visible()
    page.evaluate("() => Promise.all([...document.images].map((img) => img.decode().catch(() => null)))")
    shot("inbox")
    page.locator("article.msg", has=page.locator("img.thumb")).locator(".channel-name").click()  # opened: larger
    page.locator("article.msg", has=page.locator(".text.rich")).locator(".channel-name").click()
    shot("inbox-rich")
    page.goto("/#/channels")
    expect(page.locator("#channel-list")).to_be_visible()
    shot("channels")
    page.goto(f"/#/channels/{channels['Front door'].token}")
    expect(page.locator("#snippet")).to_be_visible()
    shot("channel")
    shot("channel-full", full_page=True)
    integrations = page.locator("#integrations")
    integrations.get_by_label("Label (optional)").fill("Backup server")
    integrations.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-value")).to_be_visible()
    page.locator("#new-key").scroll_into_view_if_needed()
    shot("channel-new-key")
    page.get_by_label("Tool", exact=True).select_option("Home Assistant")
    page.locator("#integration-snippet").scroll_into_view_if_needed()
    shot("channel-integration-settings")
    shot("channel-integrations-full", full_page=True)
    page.goto("/#/blocked")
    expect(page.locator("#blocked-list")).to_be_visible()
    shot("blocked")
    page.goto("/#/settings")
    expect(page.locator("#session-list li.session-row")).to_have_count(1)
    page.locator("#session-list").scroll_into_view_if_needed()
    shot("settings-sessions-only")
    user = AppUser.objects.get(token=user_token)
    access_token_create(user=user, label="Firefox on Android")
    access_token_create(user=user, label="")  # a client that said nothing about itself
    page.reload()
    expect(page.locator("#session-list li.session-row")).to_have_count(3)
    page.locator("#session-list").scroll_into_view_if_needed()
    shot("settings-sessions")
    page.get_by_role("button", name="Link another browser or phone").click()
    expect(page.locator("#link-code")).to_be_visible()
    shot("settings")
    shot("settings-full", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots_of_the_link_prompt(new_context, site, size, scheme):
    """A fresh browser opening someone's /#link=CODE: the question it asks before anything is stored."""
    OUT.mkdir(parents=True, exist_ok=True)
    code, _ = link_code_create(user=AppUser.objects.create())
    page = new_context(viewport=SIZES[size], color_scheme=scheme).new_page()
    page.goto(f"/#link={code}")
    expect(page.locator("#link-prompt")).to_be_visible()
    page.wait_for_timeout(300)
    suffix = "" if scheme == "light" else "-dark"
    page.screenshot(path=str(OUT / f"link-prompt-{SIZES[size]['width']}x{SIZES[size]['height']}{suffix}.png"))


def test_screenshots_in_russian(new_context, site, same_media, tmp_path):
    """Every screen in Russian on a 360 px phone (issue 28): longer words must not overflow. *-ru-360x740.png"""
    OUT.mkdir(parents=True, exist_ok=True)
    page = new_context(viewport=SIZES["phone"], locale="ru-RU").new_page()

    def shot(name, full_page=False):
        if full_page:
            page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / f"{name}-ru-360x740.png"), full_page=full_page)

    page.goto("/")
    expect(page.get_by_role("button", name="Создать мой ящик")).to_be_visible()
    shot("welcome")
    page.get_by_role("button", name="Создать мой ящик").click()
    expect(page.get_by_role("heading", name="Ваш ящик готов")).to_be_visible()
    shot("ready")
    page.get_by_role("button", name="Открыть мой ящик").click()
    expect(page.locator("#inbox-empty")).to_be_visible()
    shot("inbox-empty")
    user_token = page.evaluate("localStorage.getItem('kp.user_token')")
    channels = seed(site, user_token, tmp_path)
    door = channels["Front door"]
    status, body = send(site, to=user_token, token=door.token, secret=door.secret, message="Кто-то звонит в дверь.",
                        priority=2, retry=60, expire=3600, title="Входная дверь")
    assert status == 200, body
    page.reload()
    expect(message(page, "Кто-то звонит в дверь.")).to_be_visible()
    page.evaluate("() => Promise.all([...document.images].map((img) => img.decode().catch(() => null)))")
    shot("inbox")
    page.goto("/#/channels")
    expect(page.locator("#channel-list")).to_be_visible()
    shot("channels", full_page=True)
    page.goto(f"/#/channels/{door.token}")
    expect(page.locator("#snippet")).to_be_visible()
    expect(page.locator("#key-list li")).to_have_count(2)
    shot("channel-full", full_page=True)
    page.goto("/#/blocked")
    expect(page.locator("#blocked-list")).to_be_visible()
    shot("blocked")
    page.goto("/#/settings")
    expect(page.locator("#session-list li.session-row")).to_have_count(1)
    page.get_by_role("button", name="Привязать другой браузер или телефон").click()
    expect(page.locator("#link-code")).to_be_visible()
    shot("settings-full", full_page=True)
