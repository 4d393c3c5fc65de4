"""The inbox in the browser: live arrival, read, mark all, delete, escaping, endless scroll, the unread count."""

import re

from playwright.sync_api import expect

from channels_app.services import channel_create
from messaging.models import Message
from tests.web.conftest import api, send
from tests.web.helpers import message, register, wait_until_live
from users_app.models import AppUser

ARRIVAL_MS = 2000  # the promise: a sent message shows within 2 s, without a reload


def inbox_with_channel(page):
    stored = register(page)
    user = AppUser.objects.get(token=stored["user_token"])
    channel = channel_create(owner=user, name="Garage")
    wait_until_live(page)  # the 2 s are counted from an open inbox, not from a page still connecting
    return stored, channel


def send_to(site, stored, channel, text, **fields):
    status, body = send(site, to=stored["user_token"], token=channel.token, secret=channel.secret, message=text, **fields)
    assert status == 200, body
    return int(body["response"]["id"])


def test_a_sent_message_shows_within_two_seconds_without_a_reload(page, site):
    stored, channel = inbox_with_channel(page)
    page.evaluate("window.__sameDocument = true")
    send_to(site, stored, channel, "Door is open", url="https://example.com/door", important=1)
    item = message(page, "Door is open")
    expect(item).to_be_visible(timeout=ARRIVAL_MS)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    expect(item.locator(".channel-name")).to_have_text("Garage")
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(item.get_by_text("Important")).to_be_visible()
    link = item.locator("a.link")
    expect(link).to_have_attribute("href", "https://example.com/door")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(item.locator("time")).to_have_text("just now")
    assert item.locator("time").get_attribute("title")  # the exact time on hover


def test_message_text_is_shown_as_text_never_as_html(page, site):
    stored, channel = inbox_with_channel(page)
    page.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError("a dialog opened: " + dialog.message)))
    text = "<img src=x onerror=alert(1)> <b>bold</b>"
    send_to(site, stored, channel, text)
    item = message(page, "onerror")
    expect(item.locator("p.text")).to_have_text(text)
    expect(item.locator("img[src=x], b")).to_have_count(0)


# Records what the page tells the Badging API (headless Chromium has no app badge to look at).
RECORD_BADGE = """
navigator.setAppBadge = (n) => { window.__kpBadge = n; return Promise.resolve(); };
navigator.clearAppBadge = () => { window.__kpBadge = 0; return Promise.resolve(); };
"""


def test_the_unread_count_is_in_the_title_the_nav_and_the_app_badge(new_context, site):
    context = new_context()
    context.add_init_script(RECORD_BADGE)
    page = context.new_page()
    stored, channel = inbox_with_channel(page)
    expect(page).to_have_title("KILO.Push")
    for n in range(3):
        send_to(site, stored, channel, f"Ping {n}")
    expect(page).to_have_title("(3) KILO.Push")
    expect(page.locator("#nav-unread")).to_have_text("3")
    assert page.evaluate("window.__kpBadge") == 3
    page.get_by_role("button", name="Mark all read").click()
    expect(page).to_have_title("KILO.Push")
    expect(page.locator("#nav-unread")).to_be_hidden()
    assert page.evaluate("window.__kpBadge") == 0


def test_opening_a_message_marks_it_read(page, site):
    stored, channel = inbox_with_channel(page)
    message_id = send_to(site, stored, channel, "Backup finished")
    send_to(site, stored, channel, "Other")
    item = message(page, "Backup finished")
    item.locator("p.text").click()
    expect(item).not_to_have_class(re.compile(r"\bunread\b"))
    expect(page).to_have_title("(1) KILO.Push")
    assert Message.objects.get(pk=message_id).read_at is not None


def test_a_message_opens_from_the_keyboard(page, site):
    stored, channel = inbox_with_channel(page)
    message_id = send_to(site, stored, channel, "Keyboard")
    item = message(page, "Keyboard")
    item.focus()
    page.keyboard.press("Enter")
    expect(item).not_to_have_class(re.compile(r"\bunread\b"))
    assert Message.objects.get(pk=message_id).read_at is not None


def test_mark_all_read(page, site):
    stored, channel = inbox_with_channel(page)
    for n in range(3):
        send_to(site, stored, channel, f"Alarm {n}")
    expect(page.locator("article.msg.unread")).to_have_count(3)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("article.msg.unread")).to_have_count(0)
    expect(page).to_have_title("KILO.Push")
    assert not Message.objects.filter(read_at__isnull=True).exists()


def test_delete_a_message(page, site):
    stored, channel = inbox_with_channel(page)
    message_id = send_to(site, stored, channel, "Delete me")
    send_to(site, stored, channel, "Keep me")
    message(page, "Delete me").get_by_role("button", name="Delete").click()
    expect(message(page, "Delete me")).to_have_count(0)
    expect(message(page, "Keep me")).to_be_visible()
    assert not Message.objects.in_inbox().filter(pk=message_id).exists()
    page.reload()
    expect(message(page, "Keep me")).to_be_visible()
    expect(message(page, "Delete me")).to_have_count(0)


def test_endless_scroll_loads_older_messages_without_gaps_or_doubles(page, site):
    stored, channel = inbox_with_channel(page)
    for n in range(70):
        send_to(site, stored, channel, f"Old {n:02d}")
    page.reload()
    expect(page.locator("article.msg")).to_have_count(30)
    for _ in range(3):
        page.locator("article.msg").last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 5000)
    expect(page.locator("article.msg")).to_have_count(70)
    texts = page.locator("article.msg p.text").all_text_contents()
    assert texts == [f"Old {n:02d}" for n in reversed(range(70))]


def test_a_message_that_arrives_while_the_inbox_is_not_shown_is_there_afterwards(page, site):
    stored, channel = inbox_with_channel(page)
    page.locator("#nav").get_by_role("link", name="Blocked").click()
    send_to(site, stored, channel, "While away")
    expect(page).to_have_title("(1) KILO.Push")
    page.locator("#nav").get_by_role("link", name="Inbox").click()
    expect(message(page, "While away")).to_have_count(1)
    assert api(site, "GET", "/v1/app/me", token=stored["access_token"])[1]["unread"] == 1


def test_a_title_shows_above_the_text_with_the_channel_name_live_and_after_a_reload(page, site):
    stored, channel = inbox_with_channel(page)
    send_to(site, stored, channel, "12.4 GB in 6 min", title="Backup <b>done</b>")
    item = message(page, "12.4 GB in 6 min")
    expect(item).to_be_visible()  # live, from the stream
    for _ in range(2):
        expect(item.locator(".channel-name")).to_have_text("Garage")
        expect(item.locator("p.title")).to_have_text("Backup <b>done</b>")  # as text, never as HTML
        expect(item.locator("b")).to_have_count(0)
        # The title is the first line of the body, above the text, and bold.
        assert item.locator(".msg-body > p").all_text_contents()[:2] == ["Backup <b>done</b>", "12.4 GB in 6 min"]
        assert int(item.locator("p.title").evaluate("(node) => getComputedStyle(node).fontWeight")) >= 600
        expect(item).to_have_attribute("aria-label", "Unread. Garage: Backup <b>done</b>")
        page.reload()  # from GET /v1/app/messages
        item = message(page, "12.4 GB in 6 min")


def test_a_message_without_a_title_has_no_title_line(page, site):
    stored, channel = inbox_with_channel(page)
    send_to(site, stored, channel, "Just text")
    item = message(page, "Just text")
    expect(item).to_be_visible()
    expect(item.locator("p.title")).to_have_count(0)
    expect(item).to_have_attribute("aria-label", "Unread. Garage")
