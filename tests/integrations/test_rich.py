"""Images and Markdown through the compatibility paths (issue 25): Gotify's bigImageUrl and text/markdown, ntfy's
Attach, X-Markdown and PUT of an image with a Filename, and the hook's multipart upload."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kilopush.middleware import body_limit
from messaging.models import Message
from tests.integrations.support import new_key
from tests.send import images

pytestmark = pytest.mark.django_db

SNAPSHOT = "https://cam.example/snap/1.jpg"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.SITE_URL = "https://kilo.example"
    return tmp_path


@pytest.fixture
def key(channel, bob):
    return new_key(channel, bob)


def only_message():
    [message] = Message.objects.all()
    return message


# --- Gotify ---


def gotify(client, key, **body):
    return client.post(f"/message?token={key}", json.dumps({"message": "**Door** open", **body}),
                       content_type="application/json")


def test_gotify_big_image_url_is_the_attachment_url(client, key):
    extras = {"client::notification": {"bigImageUrl": SNAPSHOT}}
    response = gotify(client, key, extras=extras)
    assert response.status_code == 200, response.content
    assert only_message().attachment_url == SNAPSHOT
    assert response.json()["extras"] == extras  # echoed as Gotify does


def test_gotify_text_markdown_is_the_markdown_format(client, key):
    assert gotify(client, key, extras={"client::display": {"contentType": "text/markdown"}}).status_code == 200
    assert only_message().format == "markdown"


def test_gotify_without_extras_is_plain_text_without_an_image(client, key):
    assert gotify(client, key, extras={"client::display": {"contentType": "text/plain"}}).status_code == 200
    message = only_message()
    assert (message.format, message.attachment_url) == ("text", "")


def test_gotify_a_big_image_url_that_is_not_https_is_a_gotify_400(client, key):
    response = gotify(client, key, extras={"client::notification": {"bigImageUrl": "http://cam.example/1.jpg"}})
    assert response.status_code == 400 and "https" in response.json()["errorDescription"]
    assert not Message.objects.exists()


# --- ntfy ---


def test_ntfy_attach_header_is_the_attachment_url(client, key):
    response = client.post(f"/{key}", "Snapshot", content_type="text/plain", HTTP_X_ATTACH=SNAPSHOT)
    assert response.status_code == 200, response.content
    assert only_message().attachment_url == SNAPSHOT
    assert response.json()["attachment"]["url"] == SNAPSHOT


def test_ntfy_attach_query_parameter_is_the_attachment_url(client, key):
    assert client.post(f"/{key}?attach={SNAPSHOT}", "Snapshot", content_type="text/plain").status_code == 200
    assert only_message().attachment_url == SNAPSHOT


@pytest.mark.parametrize("value", ["yes", "true", "1"])
def test_ntfy_x_markdown_is_the_markdown_format(client, key, value):
    assert client.post(f"/{key}", "**Firing**", content_type="text/plain", HTTP_X_MARKDOWN=value).status_code == 200
    assert only_message().format == "markdown"


def test_ntfy_without_x_markdown_is_text(client, key):
    assert client.post(f"/{key}", "**as typed**", content_type="text/plain", HTTP_X_MARKDOWN="no").status_code == 200
    assert only_message().format == "text"


def test_ntfy_json_publishing_takes_attach_and_markdown(client, key):
    body = {"topic": key, "message": "**Firing**", "attach": SNAPSHOT, "markdown": True}
    assert client.post("/", json.dumps(body), content_type="application/json").status_code == 200
    message = only_message()
    assert (message.format, message.attachment_url) == ("markdown", SNAPSHOT)


def test_ntfy_put_of_an_image_with_a_filename_is_an_upload(client, key, media):
    response = client.generic("PUT", f"/{key}", images.jpeg_with_gps(), content_type="", HTTP_FILENAME="door.jpg")
    assert response.status_code == 200, response.content
    message = only_message()
    assert (message.attachment_type, message.attachment_width, message.attachment_height) == ("image/jpeg", 600, 800)
    assert message.text == "You received a file: door.jpg"
    answer = response.json()["attachment"]
    assert answer["name"] == "door.jpg" and answer["type"] == "image/jpeg" and answer["size"] == message.attachment_size
    assert answer["url"] == f"https://kilo.example/media/{message.attachment_file}"
    stored = Image.open(media / message.attachment_file)
    assert not stored.getexif()


def test_ntfy_put_of_an_image_keeps_the_message_header(client, key):
    response = client.generic("PUT", f"/{key}", images.png(), content_type="image/png", HTTP_FILENAME="a.png",
                              HTTP_X_MESSAGE="Parcel at the door", HTTP_X_TITLE="Door")
    assert response.status_code == 200, response.content
    message = only_message()
    assert (message.text, message.title, message.attachment_type) == ("Parcel at the door", "Door", "image/png")


def test_ntfy_put_of_a_pdf_is_an_ntfy_400(client, key, media):
    response = client.generic("PUT", f"/{key}", images.pdf(), content_type="", HTTP_FILENAME="a.pdf")
    assert response.status_code == 400 and "JPEG, PNG, GIF or WebP" in response.json()["error"]
    assert not Message.objects.exists() and not (media / "attachments").exists()


def test_ntfy_put_of_a_bomb_is_refused(client, key):
    response = client.generic("PUT", f"/{key}", images.png_bomb(30_000), content_type="", HTTP_FILENAME="b.png")
    assert response.status_code == 400 and "too many pixels" in response.json()["error"]


def test_ntfy_put_without_a_filename_and_a_binary_body_is_an_upload(client, key):
    assert client.generic("PUT", f"/{key}", images.jpeg_with_gps(), content_type="").status_code == 200
    assert only_message().attachment_type == "image/jpeg"


def test_ntfy_put_may_carry_an_image_up_to_the_attachment_cap_and_post_may_not():
    put = body_limit("/k_" + "a" * 40, "PUT", "")
    assert put.bytes > 5 * 1024 * 1024 and put.status == 4005
    assert body_limit("/k_" + "a" * 40, "POST", "").bytes == 65536


def test_ntfy_a_large_text_put_without_a_filename_is_refused(client, key, settings):
    body = ("x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)).encode()
    response = client.generic("PUT", f"/{key}", body, content_type="text/plain")
    assert response.status_code == 400 and "too large" in response.json()["error"]
    assert not Message.objects.exists()


# --- the hook ---


def test_a_hook_takes_a_multipart_image_and_the_format(client, key):
    picture = SimpleUploadedFile("d.jpg", images.large_jpeg((3000, 2000)))
    response = client.post(f"/v1/hooks/{key}", {"message": "**Motion**", "format": "markdown", "attachment": picture})
    assert response.status_code == 200, response.content
    message = only_message()
    assert (message.format, message.attachment_width, message.attachment_height) == ("markdown", 2048, 1365)


def test_a_hooks_json_takes_attachment_url(client, key):
    response = client.post(f"/v1/hooks/{key}", {"message": "Snapshot", "attachment_url": SNAPSHOT},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    assert only_message().attachment_url == SNAPSHOT
