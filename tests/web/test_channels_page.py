"""Channels in the browser: create with a logo, rename, logo, secret, snippets, rotate, test message, delete."""

import re

from PIL import Image
from playwright.sync_api import expect

from channels_app.models import Channel
from tests.web.conftest import send
from tests.web.helpers import create_channel, message, register


def logo_file(tmp_path, color=(30, 160, 90)):
    path = tmp_path / "logo.png"
    Image.new("RGB", (300, 200), color).save(path)
    return path


def channel_secret(page):
    page.get_by_role("button", name="Show").click()
    return page.locator("#secret").text_content()


def test_register_then_create_a_channel_with_a_logo(page, tmp_path):
    stored = register(page)
    page.locator("#nav").get_by_role("link", name="Channels").click()
    page.get_by_label("Name").fill("Front door")
    page.locator("#create-channel input[type=file]").set_input_files(str(logo_file(tmp_path)))
    preview = page.locator("#create-channel .logo-preview img")
    expect(preview).to_have_attribute("src", re.compile(r"^blob:"))  # the preview, before any upload
    page.get_by_role("button", name="Create channel").click()
    expect(page.locator("h1.channel-name")).to_have_text("Front door")
    channel = Channel.objects.get(owner__token=stored["user_token"])
    assert channel.name == "Front door" and channel.logo
    logo = page.locator(".channel-head img.logo")
    expect(logo).to_have_attribute("src", re.compile(r"/media/logos/[0-9a-f]{32}\.png$"))
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", logo.element_handle())
    page.get_by_role("link", name="‹ Channels").click()
    row = page.locator("#channel-list li", has_text="Front door")
    expect(row).to_contain_text("0 of 300 sent today")
    expect(row.locator("img.logo")).to_be_visible()


def test_rename_change_and_remove_the_logo(page, tmp_path):
    register(page)
    token = create_channel(page, "Old name")
    page.get_by_label("Name", exact=True).fill("New name")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1.channel-name")).to_have_text("New name")
    page.locator("#edit-channel input[type=file]").set_input_files(str(logo_file(tmp_path)))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".channel-head img.logo")).to_be_visible()
    assert Channel.objects.get(token=token).logo
    page.get_by_role("button", name="Remove logo").click()
    expect(page.locator(".channel-head img.logo")).to_have_count(0)
    channel = Channel.objects.get(token=token)
    assert channel.name == "New name" and not channel.logo


def test_the_secret_is_hidden_until_show_and_the_snippets_use_the_real_tokens(page):
    stored = register(page)
    token = create_channel(page, "Snippets")
    channel = Channel.objects.get(token=token)
    assert channel.secret not in page.locator("main").inner_text()
    snippet = page.locator("#snippet")
    expect(snippet).to_contain_text("YOUR_CHANNEL_SECRET")
    expect(snippet).to_contain_text(token)
    expect(snippet).to_contain_text(stored["user_token"])
    for kind in ("curl (form)", "curl (JSON)", "Python", "JavaScript", "PHP"):
        page.get_by_role("tab", name=kind).click()
        expect(snippet).to_contain_text("/v1/messages/send")
        expect(snippet).to_contain_text("YOUR_CHANNEL_SECRET")
    assert channel_secret(page) == channel.secret
    expect(snippet).to_contain_text(channel.secret)
    expect(snippet).not_to_contain_text("YOUR_CHANNEL_SECRET")


def test_copy_example_copies_the_real_secret_while_it_is_hidden_and_it_sends(new_context, site):
    import subprocess

    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = context.new_page()
    register(page)
    token = create_channel(page, "Copied")
    secret = Channel.objects.get(token=token).secret
    page.get_by_role("tab", name="curl (JSON)").click()
    expect(page.locator("#snippet")).to_contain_text("YOUR_CHANNEL_SECRET")  # still hidden on screen
    page.get_by_role("button", name="Copy example").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert secret in copied and "YOUR_CHANNEL_SECRET" not in copied
    assert secret not in page.locator("main").inner_text()
    result = subprocess.run(["bash", "-c", copied], capture_output=True, text=True, timeout=30)
    assert '"status": 200' in result.stdout, result.stdout + result.stderr


def test_the_snippets_long_lines_stay_inside_their_box_at_1280_px(page):
    register(page)
    create_channel(page, "A channel whose name is long enough")
    channel_secret(page)
    for kind in ("curl (form)", "curl (JSON)", "Python", "JavaScript", "PHP"):
        page.get_by_role("tab", name=kind).click()
        box = page.evaluate("""() => {
            const pre = document.querySelector('#snippet'), panel = pre.closest('.panel');
            return {pre: pre.getBoundingClientRect().right, panel: panel.getBoundingClientRect().right,
                    page: document.documentElement.scrollWidth, viewport: innerWidth,
                    lines: pre.scrollWidth, box: pre.clientWidth};
        }""")
        assert box["pre"] <= box["panel"] and box["page"] <= box["viewport"], (kind, box)
        assert box["lines"] <= box["box"], (kind, box)  # no line runs out of sight (a scroll to read it)


def test_the_curl_snippet_sends_a_message_as_shown(page, site):
    import subprocess

    register(page)
    create_channel(page, "Curl")
    channel_secret(page)
    page.get_by_role("tab", name="curl (JSON)").click()
    command = page.locator("#snippet").text_content()
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert '"status": 200' in result.stdout or '"status":200' in result.stdout, result.stdout + result.stderr
    page.locator("#nav").get_by_role("link", name="Inbox").click()
    expect(message(page, "The door is open")).to_be_visible()


def test_send_a_test_message_to_yourself(page):
    register(page)
    create_channel(page, "Tester")
    page.get_by_label("Text").fill("Testing 1 2 3")
    page.get_by_role("button", name="Send to myself").click()
    expect(page.locator("#test-status")).to_have_text("Sent. It is in your inbox.")
    expect(page.locator("#usage")).to_have_text("1 of 300 sent today")
    page.locator("#nav").get_by_role("link", name="Inbox").click()
    expect(message(page, "Testing 1 2 3")).to_be_visible()


def test_the_daily_limit_is_said_in_plain_words(page, site, allow_http_errors):
    allow_http_errors("/v1/messages/send")
    stored = register(page)
    token = create_channel(page, "Chatty")
    channel = Channel.objects.get(token=token)
    for _ in range(300):
        assert send(site, to=stored["user_token"], token=token, secret=channel.secret, message="x")[0] == 200
    page.get_by_role("button", name="Send to myself").click()
    expect(page.locator("#test-status")).to_contain_text("used up its daily limit")


def test_rotate_the_secret_after_confirming_then_the_old_one_gets_4003(page, site):
    stored = register(page)
    token = create_channel(page, "Rotating")
    old = Channel.objects.get(token=token).secret
    page.get_by_role("button", name="Rotate secret…").click()
    page.get_by_role("button", name="Cancel").click()
    assert Channel.objects.get(token=token).secret == old
    page.get_by_role("button", name="Rotate secret…").click()
    expect(page.get_by_role("dialog")).to_contain_text("4003")
    page.get_by_role("dialog").get_by_role("button", name="Rotate").click()
    expect(page.locator("#secret")).not_to_have_text(re.compile(r"^•+$|^" + old + "$"))
    new = Channel.objects.get(token=token).secret
    assert new != old
    expect(page.locator("#secret")).to_have_text(new)
    status, body = send(site, to=stored["user_token"], token=token, secret=old, message="old")
    assert body["response"]["status"] == 4003
    status, body = send(site, to=stored["user_token"], token=token, secret=new, message="new")
    assert status == 200


def test_delete_a_channel_after_confirming(page):
    register(page)
    token = create_channel(page, "Doomed")
    page.get_by_role("button", name="Delete channel…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Channels")).to_be_visible()
    expect(page.locator("#channel-list")).to_have_count(0)
    assert not Channel.objects.filter(token=token).exists()
