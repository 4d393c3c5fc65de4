"""Image attachments of the send API: an upload (multipart part `attachment`) or a link (`attachment_url`)."""

import io
import resource
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import ExifTags, Image

from channels_app.services import channel_delete
from kilopush.middleware import body_limit
from messaging import retention
from messaging.models import AttachmentDay, Message
from messaging.services import inbox_delete, message_withdraw, messages_expire
from tests.app_api import call
from tests.helpers import fill_today, status_of
from tests.send import images
from users_app.models import AppUser

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs the on-commit work (file deletion) of what the block does; the test's transaction never commits."""
    return django_capture_on_commit_callbacks


def stored_files(media):
    folder = media / "attachments"
    return sorted(folder.iterdir()) if folder.exists() else []


def upload(client, fields, data, name="door.jpg", content_type="image/jpeg", **extra):
    return client.post("/v1/messages/send", {**fields, "attachment": SimpleUploadedFile(name, data, content_type)},
                       **extra)


def sent_id(response):
    assert status_of(response) == 200, response.content
    return int(response.json()["response"]["id"])


def inbox_item(person, message_id):
    [item] = [m for m in call(Client(), "GET", "/v1/app/messages", person).json()["messages"] if m["id"] == message_id]
    return item


def fetched(client, url):
    """GETs an attachment by the absolute URL the inbox gave: (status, content type, bytes)."""
    assert url.startswith("http://testserver/media/attachments/")
    response = client.get(url.removeprefix("http://testserver"))
    body = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response.status_code, response.get("Content-Type"), body


def refused(response, problem, code=4005):
    assert status_of(response) == code and response.status_code == 400, response.content
    assert problem in response.json()["response"]["message"]


# --- uploads: what is stored ---


def test_a_jpeg_is_stored_upright_without_its_exif_and_served_at_an_unguessable_url(client, valid_fields, bob, media):
    message_id = sent_id(upload(client, valid_fields, images.jpeg_with_gps()))
    attachment = inbox_item(bob, message_id)["attachment"]
    # Orientation 6 turns the 800 × 600 picture upright: 600 × 800.
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/jpeg", 600, 800)
    name = attachment["url"].rsplit("/", 1)[1]
    assert len(name.split(".")[0]) >= 20 and name.endswith(".jpg")
    status, content_type, body = fetched(client, attachment["url"])
    assert (status, content_type, len(body)) == (200, "image/jpeg", attachment["size"])
    stored = Image.open(io.BytesIO(body))
    assert stored.size == (600, 800)
    assert not stored.getexif() and not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"SpyCam" not in body and b"Exif" not in body
    # The left half was blue: after a quarter turn clockwise the top is blue.
    assert stored.convert("RGB").getpixel((300, 10))[2] > 150


def test_a_png_keeps_its_transparency_and_loses_its_text_chunks(client, valid_fields, bob):
    response = upload(client, valid_fields, images.png(), "a.png", "image/png")
    attachment = inbox_item(bob, sent_id(response))["attachment"]
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/png", 300, 200)
    _, _, body = fetched(client, attachment["url"])
    stored = Image.open(io.BytesIO(body))
    assert stored.mode == "RGBA" and stored.getpixel((1, 1))[3] == 0
    assert b"secret comment" not in body and not stored.text


def test_a_gif_is_its_first_frame_as_a_png(client, valid_fields, bob):
    response = upload(client, valid_fields, images.gif(), "a.gif", "image/gif")
    attachment = inbox_item(bob, sent_id(response))["attachment"]
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/png", 120, 80)
    _, _, body = fetched(client, attachment["url"])
    assert Image.open(io.BytesIO(body)).convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_a_webp_is_stored_as_webp(client, valid_fields, bob):
    response = upload(client, valid_fields, images.webp(), "a.webp", "image/webp")
    attachment = inbox_item(bob, sent_id(response))["attachment"]
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/webp", 640, 480)
    status, content_type, _ = fetched(client, attachment["url"])
    assert (status, content_type) == (200, "image/webp")


def test_a_large_image_is_scaled_to_2048_pixels_on_its_long_side(client, valid_fields, bob):
    attachment = inbox_item(bob, sent_id(upload(client, valid_fields, images.large_jpeg((4000, 1000)))))["attachment"]
    assert (attachment["width"], attachment["height"]) == (2048, 512)


def test_the_file_name_of_the_upload_is_not_used(client, valid_fields, bob):
    message_id = sent_id(upload(client, valid_fields, images.png(), "../../etc/passwd.png", "image/png"))
    assert "passwd" not in inbox_item(bob, message_id)["attachment"]["url"]


# --- uploads: what is refused ---


def test_a_decompression_bomb_is_refused_before_it_is_decoded(client, valid_fields, media, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own guard off: ATTACHMENT_MAX_PIXELS must hold
    bomb = images.png_bomb(30_000)  # 900 million pixels: about 110 KB on the wire, 900 MB decoded
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.monotonic()
    response = upload(client, valid_fields, bomb, "bomb.png", "image/png")
    elapsed = time.monotonic() - started
    refused(response, "too many pixels")
    assert elapsed < 10  # decoding 900 MP would take far longer (and is never started)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before < 200 * 1024
    assert not Message.objects.exists() and not stored_files(media)


def test_an_image_over_attachment_max_pixels_is_refused(client, valid_fields, settings):
    settings.ATTACHMENT_MAX_PIXELS = 799 * 600
    refused(upload(client, valid_fields, images.jpeg_with_gps((800, 600))), "too many pixels")


@pytest.mark.parametrize(
    "make, name, content_type",
    [(images.truncated_jpeg, "t.jpg", "image/jpeg"), (images.pdf, "a.pdf", "application/pdf"),
     (lambda: b"GIF89a not really", "x.gif", "image/gif"), (lambda: b"", "empty.png", "image/png")],
    ids=["truncated", "pdf", "garbage", "empty"],
)
def test_anything_but_a_whole_jpeg_png_gif_or_webp_is_4005(client, valid_fields, media, make, name, content_type):
    refused(upload(client, valid_fields, make(), name, content_type), "must be a JPEG, PNG, GIF or WebP image")
    assert not Message.objects.exists() and not stored_files(media)


def test_6_mb_is_refused_before_the_body_is_read(client, valid_fields, media):
    big = images.noise_png(6 * 1024 * 1024)
    refused(upload(client, valid_fields, big, "big.png", "image/png"), "attachment must be at most 5 MB")
    assert not Message.objects.exists() and not stored_files(media)


def test_the_body_cap_is_raised_for_multipart_sends_only():
    small = body_limit("/v1/messages/send", "POST", "application/json").bytes
    assert body_limit("/v1/messages/send", "POST", "application/x-www-form-urlencoded").bytes == small
    large = body_limit("/v1/messages/send", "POST", "multipart/form-data; boundary=x")
    assert large.bytes == 5 * 1024 * 1024 + small and large.status == 4005
    assert body_limit("/v1/messages/status", "POST", "multipart/form-data; boundary=x").bytes == small


def test_a_large_multipart_body_without_a_file_is_refused(client, valid_fields, settings):
    fields = {**valid_fields, "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}
    response = client.post("/v1/messages/send", fields)
    assert status_of(response) == 4000 and not Message.objects.exists()


def test_a_file_part_with_another_name_is_4005(client, valid_fields):
    response = client.post("/v1/messages/send", {**valid_fields, "photo": SimpleUploadedFile("a.png", images.png())})
    refused(response, "The only file part is attachment")


def test_two_attachments_are_4005(client, valid_fields):
    files = [SimpleUploadedFile("a.png", images.png()), SimpleUploadedFile("b.png", images.png())]
    refused(client.post("/v1/messages/send", {**valid_fields, "attachment": files}), "attachment may be given once")


def test_an_attachment_that_is_not_a_file_is_4005(send, valid_fields):
    refused(send({**valid_fields, "attachment": "aGVsbG8="}), "must be a file part")


def test_an_upload_and_an_attachment_url_together_are_4005(client, valid_fields):
    response = upload(client, {**valid_fields, "attachment_url": "https://cam.example/1.jpg"}, images.png())
    refused(response, "exclude each other")


def test_a_wrong_secret_is_4003_and_stores_no_file(client, valid_fields, media):
    response = upload(client, {**valid_fields, "secret": "wrong"}, images.jpeg_with_gps())
    assert status_of(response) == 4003 and not stored_files(media)


def test_over_the_daily_quota_no_file_is_left(client, valid_fields, channel, media, settings):
    fill_today(channel, settings.CHANNEL_DAILY_LIMIT)
    assert status_of(upload(client, valid_fields, images.png())) == 4029
    assert not stored_files(media) and not AttachmentDay.objects.filter(bytes__gt=0).exists()


# --- the daily byte budget ---


def test_past_the_daily_byte_budget_sends_with_an_attachment_get_4029_and_others_still_go(
    client, send, valid_fields, settings, media
):
    first = sent_id(upload(client, valid_fields, images.png()))
    size = Message.objects.get(pk=first).attachment_size
    settings.ATTACHMENT_DAILY_BYTES = size * 2 - 1
    refused(upload(client, valid_fields, images.png()), "attachment budget", code=4029)
    assert len(stored_files(media)) == 1  # the refused one's file is gone
    assert status_of(send(valid_fields)) == 200
    assert status_of(send({**valid_fields, "attachment_url": "https://cam.example/1.jpg"})) == 200


def test_the_budget_is_per_channel(client, valid_fields, settings, alice, bob):
    from channels_app.services import channel_create

    settings.ATTACHMENT_DAILY_BYTES = 1000
    other = channel_create(owner=alice.user, name="Other")
    sent_id(upload(client, valid_fields, images.png()))
    sent_id(upload(client, {**valid_fields, "token": other.token, "secret": other.secret}, images.png()))


# --- a link instead of a file ---


def test_an_attachment_url_is_passed_on_unfetched(send, valid_fields, bob):
    url = "https://cam.example/snap/1.jpg?size=large"
    attachment = inbox_item(bob, sent_id(send({**valid_fields, "attachment_url": url})))["attachment"]
    assert attachment == {"url": url, "content_type": None, "width": None, "height": None, "size": None}


@pytest.mark.parametrize(
    "url, problem",
    [("http://cam.example/1.jpg", "https://"), ("javascript:alert(1)", "attachment_url"),
     ("https://" + "a" * 1000, "at most 1000"), ("https://x y", "attachment_url"), (5, "must be a string")],
)
def test_an_attachment_url_must_be_https_and_at_most_1000_characters(send, valid_fields, url, problem):
    refused(send({**valid_fields, "attachment_url": url}), problem)


def test_without_an_attachment_it_is_null(send, valid_fields, bob):
    assert inbox_item(bob, sent_id(send(valid_fields)))["attachment"] is None


def test_an_idempotent_repeat_of_an_upload_answers_the_first_id_and_keeps_one_file(client, valid_fields, media):
    first = sent_id(upload(client, valid_fields, images.png(), HTTP_IDEMPOTENCY_KEY="k1"))
    assert sent_id(upload(client, valid_fields, images.png(), HTTP_IDEMPOTENCY_KEY="k1")) == first
    assert len(stored_files(media)) == 1
    assert status_of(upload(client, valid_fields, images.webp(), HTTP_IDEMPOTENCY_KEY="k1")) == 4009
    assert len(stored_files(media)) == 1


# --- the file goes with the message ---


def sent_with_file(client, valid_fields, bob, media):
    message_id = sent_id(upload(client, valid_fields, images.jpeg_with_gps()))
    url = inbox_item(bob, message_id)["attachment"]["url"]
    assert fetched(client, url)[0] == 200 and len(stored_files(media)) == 1
    return message_id, url


def gone(client, url, media):
    return fetched(client, url)[0] == 404 and not stored_files(media)


def test_withdrawing_deletes_the_file(client, valid_fields, channel, bob, media, committed):
    message_id, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        assert message_withdraw(channel_id=channel.pk, message_id=message_id)
    assert gone(client, url, media)
    assert Message.objects.get(pk=message_id).attachment_file == ""


def test_withdrawing_through_the_api_deletes_the_file(client, valid_fields, channel, bob, media, committed):
    message_id, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        response = client.post("/v1/messages/withdraw", {"token": channel.token, "secret": channel.secret,
                                                         "id": message_id}, content_type="application/json")
    assert status_of(response) == 200
    assert gone(client, url, media)


def test_deleting_it_from_the_inbox_deletes_the_file(client, valid_fields, bob, media, committed):
    message_id, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        assert call(Client(), "DELETE", f"/v1/app/messages/{message_id}", bob).status_code == 204
    assert gone(client, url, media)
    assert inbox_delete(user=bob.user, message_id=message_id) is False


def test_its_ttl_deletes_the_file(client, valid_fields, bob, media, committed):
    message_id = sent_id(upload(client, {**valid_fields, "ttl": "60"}, images.png()))
    url = inbox_item(bob, message_id)["attachment"]["url"]
    with committed(execute=True):
        assert messages_expire(now=timezone.now() + timedelta(minutes=2))[0] == 1
    assert gone(client, url, media)


def test_retention_deletes_the_file(client, valid_fields, bob, media, settings, committed):
    message_id, url = sent_with_file(client, valid_fields, bob, media)
    settings.MESSAGE_RETENTION_DAYS = 30
    with committed(execute=True):
        retention.purge(now=timezone.now() + timedelta(days=31))
    assert not Message.objects.filter(pk=message_id).exists()
    assert gone(client, url, media)


def test_deleting_the_channel_deletes_the_file(client, valid_fields, channel, bob, media, committed):
    _, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        channel_delete(channel=channel)
    assert gone(client, url, media)


def test_deleting_the_recipients_account_deletes_the_file(client, valid_fields, bob, media, committed):
    _, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        assert call(Client(), "DELETE", "/v1/app/me", bob).status_code == 204
    assert not AppUser.objects.filter(pk=bob.user.pk).exists()
    assert gone(client, url, media)


def test_deleting_the_senders_account_deletes_the_file(client, valid_fields, alice, bob, media, committed):
    _, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        AppUser.objects.filter(pk=alice.user.pk).delete()
    assert gone(client, url, media)


def test_an_unknown_attachment_name_is_404(client):
    assert client.get("/media/attachments/" + "0" * 32 + ".jpg").status_code == 404
    assert client.get("/media/attachments/../logos/" + "0" * 32 + ".png").status_code == 404


def test_a_replacement_deletes_the_replaced_messages_file(client, valid_fields, bob, media, committed):
    first, url = sent_with_file(client, valid_fields, bob, media)
    with committed(execute=True):
        second = sent_id(upload(client, {**valid_fields, "replace": str(first)}, images.png(), "b.png", "image/png"))
    assert fetched(client, url)[0] == 404
    assert [path.name for path in stored_files(media)] == [Message.objects.get(pk=second).attachment_file.split("/")[1]]
