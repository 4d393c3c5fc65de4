"""The inbox over the live stream (the ASGI `stream` process, read with fetch()): arrival, other devices, reconnects."""

import re
import time

from playwright.sync_api import expect

from channels_app.services import channel_create
from tests.web.conftest import api, send
from tests.web.helpers import message, register
from users_app.models import AppUser

ARRIVAL_MS = 2000


def setup_inbox(page, site):
    stored = register(page)
    channel = channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name="Garage")
    expect(page.locator("#live-state")).to_have_attribute("data-mode", "live")
    return stored, channel


def send_to(site, stored, channel, text):
    status, body = send(site, to=stored["user_token"], token=channel.token, secret=channel.secret, message=text)
    assert status == 200, body
    return int(body["response"]["id"])


def other_device(site, stored):
    """Another linked browser or phone of the same account: its own access token."""
    code = api(site, "POST", "/v1/app/link-codes", token=stored["access_token"])[1]["code"]
    return api(site, "POST", "/v1/app/link", {"code": code})[1]["access_token"]


def test_the_page_reads_the_stream_and_a_message_shows_within_two_seconds(page, site):
    stored, channel = setup_inbox(page, site)
    send_to(site, stored, channel, "Streamed")
    expect(message(page, "Streamed")).to_be_visible(timeout=ARRIVAL_MS)


def test_a_read_on_another_device_shows(page, site):
    stored, channel = setup_inbox(page, site)
    first = send_to(site, stored, channel, "One")
    send_to(site, stored, channel, "Two")
    expect(page.locator("article.msg.unread")).to_have_count(2)
    token = other_device(site, stored)
    assert api(site, "POST", f"/v1/app/messages/{first}/read", token=token)[0] == 204
    expect(message(page, "One")).not_to_have_class(re.compile(r"\bunread\b"))
    expect(page).to_have_title("(1) KILO.Push")
    assert api(site, "POST", "/v1/app/messages/read", {"up_to": first + 1}, token=token)[0] == 204
    expect(page.locator("article.msg.unread")).to_have_count(0)
    expect(page).to_have_title("KILO.Push")


def test_a_delete_on_another_device_shows(page, site):
    stored, channel = setup_inbox(page, site)
    gone = send_to(site, stored, channel, "Gone soon")
    send_to(site, stored, channel, "Stays")
    expect(message(page, "Gone soon")).to_be_visible()
    assert api(site, "DELETE", f"/v1/app/messages/{gone}", token=other_device(site, stored))[0] == 204
    expect(message(page, "Gone soon")).to_have_count(0)
    expect(message(page, "Stays")).to_be_visible()


def test_after_a_reconnect_nothing_is_missing_and_nothing_is_doubled(page, site, stream_proxy, allow_dropped_stream):
    stored, channel = setup_inbox(page, site)
    send_to(site, stored, channel, "Before")
    expect(message(page, "Before")).to_be_visible()
    stream_proxy.cut()  # the stream's connection drops and new ones are refused
    for n in range(5):
        send_to(site, stored, channel, f"While cut {n}")
    stream_proxy.restore()
    for n in range(5):
        expect(message(page, f"While cut {n}")).to_have_count(1)
    send_to(site, stored, channel, "After")
    expect(message(page, "After")).to_be_visible()
    texts = page.locator("article.msg p.text").all_text_contents()
    assert texts == ["After", *[f"While cut {n}" for n in reversed(range(5))], "Before"]


def test_a_message_shown_while_the_reconnect_rereads_the_inbox_is_not_taken_for_deleted(page, site, stream_proxy,
                                                                                        allow_dropped_stream):
    """After a reconnect the page re-reads the newest 100 messages; one the stream shows before that answer comes was
    not in it, and stays. The answer held back here also says "Before" was read, which only the re-read can show."""
    stored, channel = setup_inbox(page, site)
    send_to(site, stored, channel, "Before")
    expect(message(page, "Before")).to_have_class(re.compile(r"\bunread\b"))

    def late_reread(route):
        reread = route.fetch()  # the inbox as it is now, without the message sent next
        send_to(site, stored, channel, "Meanwhile")
        body = reread.json()
        assert [item["message"] for item in body["messages"]] == ["Before"]
        body["messages"][0]["read"] = True
        time.sleep(1.5)  # the stream shows "Meanwhile" before this answer arrives
        route.fulfill(response=reread, json=body)

    page.route(re.compile(r"/v1/app/messages\?limit=100$"), late_reread, times=1)
    stream_proxy.cut()
    stream_proxy.restore()
    expect(message(page, "Before")).not_to_have_class(re.compile(r"\bunread\b"))  # the re-read was applied
    expect(message(page, "Meanwhile")).to_have_count(1)
    texts = page.locator("article.msg p.text").all_text_contents()
    assert texts == ["Meanwhile", "Before"]


def test_the_live_indicator_shows_on_every_screen_whichever_opens_first(page, site):
    register(page)
    page.goto("/#/channels")  # a fresh load on another screen than the inbox
    page.reload()
    indicator = page.locator("#live-state")
    expect(indicator).to_have_attribute("data-mode", "live")
    for name in ("Channels", "Inbox", "Blocked", "Settings", "Inbox"):
        page.locator("#nav").get_by_role("link", name=name).click()
        expect(indicator).to_be_visible()
        expect(indicator).to_have_text("Live")
