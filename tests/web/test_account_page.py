"""Blocking, linking another browser, devices, deleting the account, a revoked token."""

import re
import time

from playwright.sync_api import expect

from channels_app.services import channel_create
from tests.web.conftest import api, send
from tests.people import make_person
from tests.web.helpers import message, register, tokens
from users_app.models import AccessToken, AppUser, LinkCode


def own_channel(stored, name="Garage"):
    return channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name=name)


def test_block_from_a_message_then_sends_get_4024_then_unblock(page, site):
    stored = register(page)
    channel = channel_create(owner=make_person().user, name="Spammy")  # one's own channel offers no Block
    fields = dict(to=stored["user_token"], token=channel.token, secret=channel.secret)
    assert send(site, **fields, message="Buy now")[0] == 200
    item = message(page, "Buy now")
    item.get_by_role("button", name="Block channel").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Spammy")
    dialog.get_by_role("button", name="Block").click()
    expect(page.locator("#toast")).to_have_text("Spammy is blocked.")
    status, body = send(site, **fields, message="Again")
    assert body["response"]["status"] == 4024
    page.locator("#nav").get_by_role("link", name="Blocked").click()
    row = page.locator("#blocked-list li", has_text="Spammy")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Unblock").click()
    expect(page.locator("#blocked-list li", has_text="Spammy")).to_have_count(0)
    assert send(site, **fields, message="Welcome back")[0] == 200


def link_code(page):
    page.locator("#nav").get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Link another browser or phone").click()
    shown = page.locator("#link-code").text_content()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", shown)
    return shown


def test_link_a_second_browser_by_code_and_a_message_shows_in_both(new_context, site):
    first = new_context().new_page()
    stored = register(first)
    code = link_code(first)
    qr = first.locator("#link-code-box canvas.qr")
    expect(qr).to_have_attribute("data-text", f"{site.url}/#link={code.replace('-', '')}")

    second = new_context().new_page()  # another browser: its own storage
    second.goto("/")
    second.get_by_role("button", name="I have a link code").click()
    second.get_by_label("Link code from your other device").fill(code.lower())
    second.get_by_role("button", name="Link this browser").click()
    expect(second.locator("#link-prompt")).to_have_text(
        f"This browser will show the inbox of u_…{stored['user_token'][-4:]}. Continue?"
    )
    second.get_by_role("button", name="Continue").click()
    expect(second.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    linked = tokens(second)
    assert linked["user_token"] == stored["user_token"]
    assert linked["access_token"] != stored["access_token"]

    channel = own_channel(stored)
    assert send(site, to=stored["user_token"], token=channel.token, secret=channel.secret, message="Both")[0] == 200
    first.locator("#nav").get_by_role("link", name="Inbox").click()
    for page in (first, second):
        expect(message(page, "Both")).to_be_visible()


def stored_keys(page):
    return page.evaluate("() => Object.keys(localStorage).filter((key) => key.startsWith('kp.'))")


def test_opening_a_link_asks_first_and_stores_nothing_until_continue(new_context, site):
    first = new_context().new_page()
    stored = register(first)
    code = link_code(first).replace("-", "")
    second = new_context().new_page()
    second.goto(f"/#link={code}")
    prompt = second.locator("#link-prompt")
    expect(prompt).to_have_text(f"This browser will show the inbox of u_…{stored['user_token'][-4:]}. Continue?")
    assert stored["user_token"][:-4] not in second.content()  # only the last 4 characters reach the page
    assert "link=" not in second.url  # the code does not stay in the address bar or history
    assert stored_keys(second) == []
    assert AccessToken.objects.count() == 1  # no session yet: only the first browser's
    assert LinkCode.objects.get().used_at is None
    expect(second.locator("#nav")).to_be_hidden()

    second.get_by_role("button", name="Continue").click()
    expect(second.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    assert tokens(second)["user_token"] == stored["user_token"]
    assert AccessToken.objects.count() == 2


def test_cancelling_a_link_stores_nothing_and_leaves_the_code_unused(new_context, site):
    first = new_context().new_page()
    register(first)
    code = link_code(first).replace("-", "")
    second = new_context().new_page()
    second.goto(f"/#link={code}")
    second.get_by_role("button", name="Cancel").click()
    expect(second.get_by_role("button", name="Create my inbox")).to_be_visible()
    assert stored_keys(second) == []
    assert AccessToken.objects.count() == 1
    assert LinkCode.objects.get().used_at is None


def test_a_signed_in_browser_keeps_its_inbox_unless_it_continues(new_context, site):
    first = new_context().new_page()
    theirs = register(first)
    code = link_code(first).replace("-", "")
    second = new_context().new_page()
    mine = register(second)
    second.goto(f"/#link={code}")
    expect(second.locator("#link-prompt")).to_contain_text(f"u_…{theirs['user_token'][-4:]}")
    expect(second.locator("#link-replaces")).to_contain_text(f"u_…{mine['user_token'][-4:]}")
    assert tokens(second) == mine
    second.get_by_role("button", name="Cancel").click()
    expect(second.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    assert tokens(second) == mine
    second.goto(f"/#link={code}")
    second.get_by_role("button", name="Continue").click()
    expect(second.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    assert tokens(second)["user_token"] == theirs["user_token"]


def test_a_used_link_code_is_refused_in_plain_words(new_context, site, allow_http_errors):
    allow_http_errors("/v1/app/link")
    first = new_context().new_page()
    register(first)
    code = link_code(first).replace("-", "")
    assert api(site, "POST", "/v1/app/link", {"code": code})[0] == 201
    second = new_context().new_page()
    second.goto(f"/#link={code}")
    expect(second.locator("#notice")).to_contain_text("wrong, already used or expired")
    expect(second.get_by_role("button", name="Create my inbox")).to_be_visible()


def test_delete_the_account_after_typing_to_confirm(page, site):
    stored = register(page)
    page.locator("#nav").get_by_role("link", name="Settings").click()
    button = page.get_by_role("button", name="Delete my account")
    expect(button).to_be_disabled()
    page.locator("#delete-confirm").fill("dele")
    expect(button).to_be_disabled()
    page.locator("#delete-confirm").fill("delete")
    button.click()
    expect(page.get_by_role("button", name="Create my inbox")).to_be_visible()
    assert not AppUser.objects.filter(token=stored["user_token"]).exists()
    assert tokens(page) == {"access_token": None, "user_token": None}


def test_deleting_the_account_ends_live_updates_before_the_delete_goes_out(page, site):
    """The deletion ends the account's streams; a page still live would reconnect (after 1 s) and be refused
    (a 401, then a console error) before the DELETE's answer arrives. Here that answer is held 2.5 s."""
    register(page)
    expect(page.locator("#live-state")).to_have_attribute("data-mode", "live")
    deleting = []
    streams_after = []
    page.on("request", lambda request: streams_after.append(request.url)
            if deleting and "/v1/app/stream" in request.url else None)

    def hold_the_answer(route, request):
        if request.method != "DELETE":
            return route.continue_()
        deleting.append(True)
        response = route.fetch()  # the server deletes the account, and ends its streams, now
        time.sleep(2.5)
        route.fulfill(response=response)

    page.route("**/v1/app/me", hold_the_answer)
    page.locator("#nav").get_by_role("link", name="Settings").click()
    page.locator("#delete-confirm").fill("delete")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("button", name="Create my inbox")).to_be_visible()
    page.wait_for_timeout(500)
    assert deleting and streams_after == []


def test_a_revoked_token_goes_back_to_the_first_screen_and_says_why(new_context, site, allow_http_errors):
    allow_http_errors("/v1/app/")
    first = new_context().new_page()
    stored = register(first)
    code = link_code(first).replace("-", "")
    second = new_context().new_page()
    second.goto(f"/#link={code}")
    second.get_by_role("button", name="Continue").click()
    expect(second.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    assert api(site, "DELETE", "/v1/app/me", token=stored["access_token"])[0] == 204
    assert not AccessToken.objects.exists()
    # The page's next call (live updates poll or stream) is refused, and the page says so by itself.
    expect(second.locator("#notice")).to_contain_text("signed out")
    expect(second.locator("#nav")).to_be_hidden()
    expect(second.get_by_role("button", name="Create my inbox")).to_be_visible()


def linked_browser(new_context, site, stored, user_agent):
    """Another browser of the same inbox, linked through the page (its session labelled from its User-Agent)."""
    status, body = api(site, "POST", "/v1/app/link-codes", token=stored["access_token"])
    assert status == 201, body
    page = new_context(user_agent=user_agent).new_page()
    page.goto(f"/#link={body['code']}")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    return page


FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"


def test_settings_lists_the_sessions_and_signs_out_another_browser(new_context, site, allow_http_errors):
    allow_http_errors("/v1/app/")  # the signed-out browser's next call is refused (401)
    first = new_context().new_page()
    stored = register(first)
    phone = linked_browser(new_context, site, stored, FIREFOX_ANDROID)
    first.locator("#nav").get_by_role("link", name="Settings").click()
    rows = first.locator("#session-list li.session-row")
    expect(rows).to_have_count(2)
    for row in (rows.nth(0), rows.nth(1)):
        expect(row.get_by_role("button", name="Sign out")).to_be_visible()
    expect(rows.nth(0).locator(".badge")).to_have_text("this browser")
    expect(rows.nth(1)).to_contain_text("Firefox on Android")
    assert stored["access_token"] not in first.content()

    rows.nth(1).get_by_role("button", name="Sign out").click()
    # Its pushes stop with it (users_app.services: the devices a session registered).
    expect(first.get_by_role("dialog")).to_contain_text("can no longer read this inbox or get its notifications")
    first.get_by_role("dialog").get_by_role("button", name="Sign out").click()
    expect(first.locator("#toast")).to_have_text("Firefox on Android is signed out.")
    expect(rows).to_have_count(1)
    assert AccessToken.objects.count() == 1
    expect(phone.locator("#notice")).to_contain_text("signed out")  # the phone's page learns it by itself
    expect(phone.get_by_role("button", name="Create my inbox")).to_be_visible()


def test_sign_out_of_this_browser_from_its_row(new_context, site):
    first = new_context().new_page()
    stored = register(first)
    other = linked_browser(new_context, site, stored, FIREFOX_ANDROID)
    other.locator("#nav").get_by_role("link", name="Settings").click()
    mine = other.locator("#session-list li.session-row", has=other.locator(".badge", has_text="this browser"))
    mine.get_by_role("button", name="Sign out").click()
    other.get_by_role("dialog").get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("button", name="Create my inbox")).to_be_visible()
    assert stored_keys(other) == []
    assert list(AccessToken.objects.values_list("label", flat=True)) != ["Firefox on Android"]
    assert AccessToken.objects.count() == 1


def test_the_only_session_cannot_sign_out(page, site):
    register(page)
    page.locator("#nav").get_by_role("link", name="Settings").click()
    row = page.locator("#session-list li.session-row")
    expect(row).to_have_count(1)
    expect(row.get_by_role("button", name="Sign out")).to_be_disabled()


def test_a_browser_with_notifications_off_is_not_listed_as_receiving_pushes(page):
    register(page)  # notifications are off until switched on
    page.locator("#nav").get_by_role("link", name="Settings").click()
    devices = page.locator("#device-list")
    expect(devices).to_contain_text("No device receives pushes yet.")
    expect(devices.locator("li.device-row")).to_have_count(0)
