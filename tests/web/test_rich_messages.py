"""Rich messages in the browser (issue 25): Markdown as formatted text, images as thumbnails that open full size.

The page runs under its strict CSP (a violation fails the test, see conftest.py); Markdown's hostile
parts never become elements, and nothing runs.
"""

import re

import requests
from playwright.sync_api import expect

from channels_app.services import channel_create
from messaging.models import Message
from tests.send import images
from tests.web.conftest import send
from tests.web.helpers import create_channel, register, wait_until_live
from users_app.models import AppUser

HOSTILE = (
    "**Firing**: disk *full* on `db1`\n\n"
    "<script>window.__pwned = 1</script>\n\n"
    "[click](javascript:window.__pwned=2) [runbook](https://wiki.example/disk) <a href=x onclick=alert(1)>raw</a>\n\n"
    '<img src=x onerror="window.__pwned=3"> ![pic](https://evil.example/p.png)\n\n'
    "- one\n- two"
)


def inbox_with_channel(page):
    stored = register(page)
    channel = channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name="Grafana")
    wait_until_live(page)
    return stored, channel


def no_dialogs(page):
    page.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError("a dialog opened: " + dialog.message)))


def test_markdown_is_shown_formatted_and_its_hostile_parts_stay_text(page, site):
    no_dialogs(page)
    stored, channel = inbox_with_channel(page)
    status, body = send(site, to=stored["user_token"], token=channel.token, secret=channel.secret, message=HOSTILE,
                        format="markdown")
    assert status == 200, body
    item = page.locator("article.msg", has=page.locator(".text.rich"))
    expect(item).to_be_visible()
    rich = item.locator(".text.rich")
    expect(rich.locator("strong")).to_have_text("Firing")
    expect(rich.locator("em")).to_have_text("full")
    expect(rich.locator("code")).to_have_text("db1")
    expect(rich.locator("li")).to_have_text(["one", "two"])
    expect(rich.locator("script, img, iframe, [onclick], [onerror]")).to_have_count(0)
    expect(rich).to_contain_text("<script>window.__pwned = 1</script>")  # shown as words
    expect(rich).to_contain_text("[click](javascript:window.__pwned=2)")
    links = rich.locator("a")
    expect(links).to_have_count(2)  # the runbook, and the image turned into a link to it; never javascript:
    for index in range(links.count()):
        link = links.nth(index)
        assert re.match(r"^https://", link.get_attribute("href"))
        assert link.get_attribute("rel") == "noopener noreferrer" and link.get_attribute("target") == "_blank"
    assert page.evaluate("window.__pwned") is None


def test_an_image_sent_from_the_channel_page_is_a_thumbnail_that_opens_full_size(new_context, site, tmp_path):
    context = new_context()
    page = context.new_page()
    register(page)
    create_channel(page, "Door camera")
    picture = tmp_path / "door.jpg"
    picture.write_bytes(images.jpeg_with_gps((1600, 1200)))
    page.get_by_label("Text").fill("Someone is at the door")
    page.get_by_label("Image (optional)").set_input_files(str(picture))
    page.get_by_role("button", name="Send to myself").click()
    expect(page.locator("#test-status")).to_have_text("Sent. It is in your inbox.")
    message = Message.objects.get(text="Someone is at the door")
    assert (message.attachment_width, message.attachment_height) == (1200, 1600)  # turned upright by its EXIF

    page.locator("#nav").get_by_role("link", name="Inbox").click()
    item = page.locator("article.msg", has_text="Someone is at the door")
    thumb = item.locator("img.thumb")
    expect(thumb).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert thumb.evaluate("(img) => img.naturalWidth") == 1200
    box = thumb.bounding_box()
    assert box["height"] <= 241 and box["width"] <= 321  # a thumbnail, not the picture
    link = item.locator("a.attachment")
    href = link.get_attribute("href")
    assert re.fullmatch(rf"{re.escape(site.url)}/media/attachments/[0-9a-f]{{32}}\.jpg", href)
    with context.expect_page() as opened:
        link.click()
    full = opened.value
    full.wait_for_load_state()
    assert full.url == href
    answer = requests.get(href, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert b"SpyCam" not in answer.content
    full.close()


def test_a_linked_image_is_a_link_and_the_page_loads_nothing_from_elsewhere(page, site):
    stored, channel = inbox_with_channel(page)
    status, body = send(site, to=stored["user_token"], token=channel.token, secret=channel.secret,
                        message="Snapshot", attachment_url="https://cam.example/snap/1.jpg")
    assert status == 200, body
    item = page.locator("article.msg", has_text="Snapshot")
    expect(item.locator("a.attachment-link")).to_have_attribute("href", "https://cam.example/snap/1.jpg")
    expect(item.locator("img.thumb")).to_have_count(0)


def test_a_withdrawn_images_url_answers_404(page, site):
    stored, channel = inbox_with_channel(page)
    response = requests.post(site.url + "/v1/messages/send", timeout=30, data={
        "to": stored["user_token"], "token": channel.token, "secret": channel.secret, "message": "Parcel"},
        files={"attachment": ("p.png", images.png(), "image/png")})
    assert response.json()["response"]["status"] == 200, response.text
    item = page.locator("article.msg", has_text="Parcel")
    href = item.locator("a.attachment").get_attribute("href")
    assert requests.get(href, timeout=30).status_code == 200
    withdrawn = requests.post(site.url + "/v1/messages/withdraw", timeout=30, json={
        "token": channel.token, "secret": channel.secret, "id": response.json()["response"]["id"]})
    assert withdrawn.json()["response"]["status"] == 200
    expect(item).to_have_count(0)
    assert requests.get(href, timeout=30).status_code == 404
