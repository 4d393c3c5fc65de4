"""My channels (/v1/app/channels) and channel logos."""

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from channels_app.models import Channel
from channels_app.services import channel_create, channel_set_verified
from messaging.models import Message
from tests.app_api import call, image_bytes, multipart
from tests.helpers import status_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def create(client, person, name="Garage"):
    return call(client, "POST", "/v1/app/channels", person, {"name": name})


def logo_of(client, url):
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    return Image.open(io.BytesIO(b"".join(response.streaming_content)))


def test_it_creates_a_channel(client, alice):
    response = create(client, alice)
    assert response.status_code == 201
    body = response.json()
    channel = Channel.objects.get(token=body["token"])
    assert channel.owner_id == alice.user.pk
    assert body["secret"] == channel.secret
    assert (body["name"], body["logo_url"], body["verified"], body["blocked"]) == ("Garage", None, False, False)
    assert (body["daily_limit"], body["sent_today"]) == (300, 0)


def test_a_created_channel_can_send(client, alice, bob, send):
    body = create(client, alice).json()
    response = send({"to": bob.token, "token": body["token"], "secret": body["secret"], "message": "Hi"})
    assert response.status_code == 200


def test_the_sixth_channel_is_refused_with_4003(client, alice):
    for number in range(5):
        assert create(client, alice, f"#{number}").status_code == 201
    response = create(client, alice, "#6")
    assert (response.status_code, status_of(response)) == (403, 4003)
    assert Channel.objects.filter(owner=alice.user).count() == 5


def test_it_throttles_channel_creation_per_client_address(client, alice, bob, settings):
    settings.APP_CHANNEL_CREATE_RATE = "2/h"
    create(client, alice)
    create(client, bob)
    response = create(client, alice)
    assert (response.status_code, status_of(response)) == (429, 4029)
    assert "Retry-After" in response


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 65},
        {"name": 5},
        {"name": ["a"]},
        {"name": "bell\nring"},
        {"name": "a\u0000"},
    ],
)
def test_it_refuses_invalid_names_with_4005(client, alice, body):
    response = call(client, "POST", "/v1/app/channels", alice, body)
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


@pytest.mark.parametrize("field", ["verified", "blocked", "owner"])
def test_it_refuses_mass_assignment_on_create(client, alice, bob, field):
    value = bob.user.pk if field == "owner" else True
    response = call(client, "POST", "/v1/app/channels", alice, {"name": "Mine", field: value})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


@pytest.mark.parametrize("field", ["verified", "blocked", "owner"])
def test_it_refuses_mass_assignment_on_patch(client, alice, bob, channel, field):
    value = bob.user.pk if field == "owner" else True
    response = call(client, "PATCH", f"/v1/app/channels/{channel.token}", alice, {field: value})
    assert (response.status_code, status_of(response)) == (400, 4005)
    channel.refresh_from_db()
    assert (channel.is_verified, channel.is_blocked, channel.owner_id) == (False, False, alice.user.pk)


def test_it_lists_only_my_channels(client, alice, bob, channel):
    channel_create(owner=bob.user, name="Bob's")
    body = call(client, "GET", "/v1/app/channels", alice).json()
    assert [c["token"] for c in body["channels"]] == [channel.token]
    assert body["channels"][0]["secret"] == channel.secret


def test_the_list_shows_sent_today_and_no_limit_when_verified(client, alice, channel, send, valid_fields):
    send(valid_fields)
    channel_set_verified(channel=channel, verified=True)
    [item] = call(client, "GET", "/v1/app/channels", alice).json()["channels"]
    assert (item["verified"], item["daily_limit"], item["sent_today"]) == (True, None, 1)


def test_patch_renames_a_channel(client, alice, channel):
    response = call(client, "PATCH", f"/v1/app/channels/{channel.token}", alice, {"name": "Renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    channel.refresh_from_db()
    assert channel.name == "Renamed"


def test_delete_removes_a_channel(client, alice, channel):
    response = call(client, "DELETE", f"/v1/app/channels/{channel.token}", alice)
    assert response.status_code == 204
    assert not Channel.objects.filter(pk=channel.pk).exists()


def test_a_deleted_channel_cannot_send(client, alice, channel, send, valid_fields):
    call(client, "DELETE", f"/v1/app/channels/{channel.token}", alice)
    assert status_of(send(valid_fields)) == 4003


def test_rotate_secret_gives_a_new_secret_and_kills_the_old(client, alice, channel, send, valid_fields):
    response = call(client, "POST", f"/v1/app/channels/{channel.token}/rotate-secret", alice)
    assert response.status_code == 200
    new_secret = response.json()["secret"]
    assert new_secret != valid_fields["secret"]
    assert status_of(send(valid_fields)) == 4003
    assert send({**valid_fields, "secret": new_secret}).status_code == 200


@pytest.mark.parametrize(
    "method, suffix, body",
    [("PATCH", "", {"name": "Mine now"}), ("DELETE", "", None), ("POST", "/rotate-secret", None)],
)
def test_another_users_channel_is_404(client, bob, channel, method, suffix, body):
    secret = channel.secret
    response = call(client, method, f"/v1/app/channels/{channel.token}{suffix}", bob, body)
    assert (response.status_code, status_of(response)) == (404, 4004)
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("Alice's alarms", secret)


@pytest.mark.parametrize(
    "method, suffix, body",
    [("PATCH", "", {"name": "Mine now"}), ("DELETE", "", None), ("POST", "/rotate-secret", None)],
)
def test_a_channel_without_credential_is_401(client, channel, method, suffix, body):
    response = call(client, method, f"/v1/app/channels/{channel.token}{suffix}", None, body)
    assert (response.status_code, status_of(response)) == (401, 4001)


@pytest.mark.parametrize("token", ["c_" + "0" * 40, "nope", "c_%00", "u_" + "a" * 40])
def test_an_unknown_channel_token_is_404(client, alice, token):
    response = call(client, "DELETE", f"/v1/app/channels/{token}", alice)
    assert (response.status_code, status_of(response)) == (404, 4004)


def test_channel_list_and_create_need_a_credential(client):
    assert status_of(call(client, "GET", "/v1/app/channels")) == 4001
    assert status_of(call(client, "POST", "/v1/app/channels", body={"name": "x"})) == 4001
    assert not Channel.objects.exists()


# Logos


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_it_creates_a_channel_with_a_logo(client, alice, fmt):
    upload = image_bytes(fmt, size=(600, 300))
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.img", upload, "image/x")}
    )
    assert response.status_code == 201, response.content
    logo_url = response.json()["logo_url"]
    assert logo_url.startswith("http://testserver/media/logos/") and logo_url.endswith(".png")
    image = logo_of(client, logo_url)
    assert (image.format, image.size) == ("PNG", (256, 256))


def test_a_small_logo_is_squared_but_not_enlarged(client, alice):
    upload = image_bytes("PNG", size=(40, 20))
    body = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", upload, "image/png")}
    ).json()
    assert logo_of(client, body["logo_url"]).size == (40, 40)


def test_the_stored_logo_has_no_metadata(client, alice):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam Inc."  # Make
    exif[0x8825] = {2: (48.0, 8.0, 0.0)}  # GPS
    upload = image_bytes("JPEG", exif=exif.tobytes(), comment=b"hello")
    body = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.jpg", upload, "image/jpeg")}
    ).json()
    response = client.get(body["logo_url"].removeprefix("http://testserver"))
    content = b"".join(response.streaming_content)
    assert b"SecretCam" not in content
    image = Image.open(io.BytesIO(content))
    assert not image.getexif()
    assert set(image.info) <= {"dpi", "gamma", "srgb"}


def test_logos_are_served_with_debug_off(client, alice, settings):
    settings.DEBUG = False
    upload = image_bytes("PNG")
    body = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", upload, "image/png")}
    ).json()
    response = Client().get(body["logo_url"].removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "max-age" in response["Cache-Control"]


def test_the_logo_url_uses_site_url(client, alice, settings):
    settings.SITE_URL = "https://push.example.org"
    upload = image_bytes("PNG")
    body = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", upload, "image/png")}
    ).json()
    assert body["logo_url"].startswith("https://push.example.org/media/logos/")


def test_an_unknown_logo_file_is_404(client):
    assert client.get("/media/logos/" + "0" * 32 + ".png").status_code == 404
    assert client.get("/media/../settings.py").status_code == 404


def test_it_refuses_a_non_image_logo_with_4005(client, alice):
    response = multipart(
        client,
        "POST",
        "/v1/app/channels",
        alice,
        {"name": "Cam"},
        {"logo": ("l.png", b"<?php echo 1; ?>", "image/png")},
    )
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


def test_it_refuses_a_gif_logo_with_4005(client, alice):
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.gif", image_bytes("GIF"), "image/gif")}
    )
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_it_refuses_a_truncated_image_with_4005(client, alice):
    upload = image_bytes("PNG", size=(500, 500), color=(1, 2, 3, 255))[:200]
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", upload, "image/png")}
    )
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_it_refuses_a_logo_over_2_mb_with_4005(client, alice):
    upload = image_bytes("PNG", size=(100, 100)) + b"\0" * (2 * 1024 * 1024)
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", upload, "image/png")}
    )
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert "2 MB" in response.json()["response"]["message"]


def test_it_refuses_a_logo_just_over_the_limit_with_4005(client, alice, settings):
    settings.LOGO_MAX_BYTES = 1000
    upload = image_bytes("PNG", size=(64, 64), color=(0, 0, 0, 255)) + b"\0" * 1000
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", upload, "image/png")}
    )
    assert (response.status_code, status_of(response)) == (400, 4005)


def png_with_size(width, height):
    """A small valid PNG whose header claims width x height pixels (CRC fixed up)."""
    data = bytearray(image_bytes("PNG", size=(1, 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_it_refuses_a_decompression_bomb_with_4005(client, alice):
    # 8000 x 8000 px of one bit each: a small file that would decode to 64 million pixels.
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, format="PNG")
    assert len(out.getvalue()) < 100_000
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", out.getvalue(), "image/png")}
    )
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


def test_it_refuses_an_image_claiming_billions_of_pixels_with_4005(client, alice):
    bomb = png_with_size(100_000, 100_000)
    response = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", bomb, "image/png")}
    )
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_it_refuses_a_logo_sent_as_text_in_json(client, alice):
    response = call(client, "POST", "/v1/app/channels", alice, {"name": "Cam", "logo": "http://example.com/x.png"})
    assert (response.status_code, status_of(response)) == (400, 4005)


def test_patch_replaces_the_logo_and_removes_the_old_file(client, alice, django_capture_on_commit_callbacks):
    first = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", image_bytes("PNG"), "image/png")}
    ).json()
    old_file = Path(Channel.objects.get(token=first["token"]).logo.path)
    assert old_file.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = multipart(
            client,
            "PATCH",
            f"/v1/app/channels/{first['token']}",
            alice,
            {},
            {"logo": ("l.webp", image_bytes("WEBP"), "image/webp")},
        )
    assert response.status_code == 200
    assert response.json()["logo_url"] != first["logo_url"]
    assert logo_of(client, response.json()["logo_url"]).format == "PNG"
    assert not old_file.exists()


def test_deleting_the_account_removes_logo_files(client, alice, django_capture_on_commit_callbacks):
    body = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", image_bytes("PNG"), "image/png")}
    ).json()
    logo_file = Path(Channel.objects.get(token=body["token"]).logo.path)
    with django_capture_on_commit_callbacks(execute=True):
        call(client, "DELETE", "/v1/app/me", alice)
    assert not logo_file.exists()


def test_patch_with_null_logo_removes_it(client, alice):
    first = multipart(
        client, "POST", "/v1/app/channels", alice, {"name": "Cam"}, {"logo": ("l.png", image_bytes("PNG"), "image/png")}
    ).json()
    response = call(client, "PATCH", f"/v1/app/channels/{first['token']}", alice, {"logo": None})
    assert response.json()["logo_url"] is None
    assert not Channel.objects.get(token=first["token"]).logo


def test_deleting_a_channel_deletes_the_messages_it_sent(client, alice, bob, channel, send, valid_fields):
    send(valid_fields)
    call(client, "DELETE", f"/v1/app/channels/{channel.token}", alice)
    assert not Message.objects.filter(recipient=bob.user).exists()
