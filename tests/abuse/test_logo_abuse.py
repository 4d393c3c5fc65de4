"""Logo uploads are throttled and their decode is bounded (issue 16, item 3)."""

import io

import pytest
from PIL import Image

from channels_app.models import Channel
from tests.app_api import call, image_bytes, multipart
from tests.helpers import status_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def new_channel(client, person):
    return call(client, "POST", "/v1/app/channels", person, {"name": "Cam"}).json()["token"]


def patch_logo(client, person, token):
    return multipart(client, "PATCH", f"/v1/app/channels/{token}", person, {},
                     {"logo": ("l.png", image_bytes("PNG", size=(64, 64)), "image/png")})


def test_logo_updates_are_throttled_per_address(client, alice, settings):
    settings.APP_LOGO_UPDATE_RATE = "2/h"
    token = new_channel(client, alice)
    assert patch_logo(client, alice, token).status_code == 200
    assert patch_logo(client, alice, token).status_code == 200
    response = patch_logo(client, alice, token)
    assert (response.status_code, status_of(response)) == (429, 4029)
    assert int(response["Retry-After"]) >= 1


def test_a_rename_without_a_logo_is_not_counted(client, alice, settings):
    settings.APP_LOGO_UPDATE_RATE = "1/h"
    token = new_channel(client, alice)
    for name in ("A", "B", "C"):
        assert call(client, "PATCH", f"/v1/app/channels/{token}", alice, {"name": name}).status_code == 200
    assert patch_logo(client, alice, token).status_code == 200


def test_the_default_decode_ceiling_is_16_megapixels(client, alice):
    # 4001 x 4001 = 16,008,001 pixels: a few KB of PNG that the former 25 MP ceiling decoded.
    out = io.BytesIO()
    Image.new("1", (4001, 4001)).save(out, format="PNG")
    response = multipart(client, "POST", "/v1/app/channels", alice, {"name": "Cam"},
                         {"logo": ("l.png", out.getvalue(), "image/png")})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Channel.objects.exists()


def test_a_logo_at_the_ceiling_is_accepted(client, alice, settings):
    settings.LOGO_MAX_PIXELS = 300 * 200
    response = multipart(client, "POST", "/v1/app/channels", alice, {"name": "Cam"},
                         {"logo": ("l.png", image_bytes("PNG", size=(300, 200)), "image/png")})
    assert response.status_code == 201
