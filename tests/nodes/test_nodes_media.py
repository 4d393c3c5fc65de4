"""Media shared by every node: logos in an S3-compatible store (STORAGE_S3_*), moto's server standing in for S3.

Two web nodes with disks of their own: a logo uploaded through one is served by the other, from the store.
"""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from django.conf import settings as django_settings
from django.core.checks.registry import registry
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from channels_app.models import Channel
from channels_app.services import channel_update
from tests.app_api import image_bytes
from tests.nodes.s3 import s3  # noqa: F401 (s3: a fixture)
from tests.people import make_person
from tests.procs import base_env, database_url_for, start_gunicorn

pytestmark = pytest.mark.slow


def request(method, url, person=None, body=None, content_type=None):
    """(status, headers, body) of one request to a node."""
    headers = {"Authorization": f"Bearer {person.access_token}"} if person else {}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=headers),
                                    timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_a_logo_uploaded_through_one_node_is_served_by_the_other_from_the_store_and_deleted_with_its_channel(
        transactional_db, s3, tmp_path, settings):
    nodes = [start_gunicorn(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL,
                            KILOPUSH_VAR_DIR=tmp_path / f"node{i}", WEB_CONCURRENCY=1, **s3.env()) for i in (1, 2)]
    try:
        one, two = nodes
        alice = make_person()
        body = encode_multipart(BOUNDARY, {"name": "Garage", "logo": SimpleUploadedFile(
            "logo.png", image_bytes(size=(300, 200)), content_type="image/png")})
        status, _, answer = request("POST", one.url + "/v1/app/channels", alice, body, MULTIPART_CONTENT)
        assert status == 201, answer
        channel = json.loads(answer)
        [key] = s3.keys()
        assert key.startswith("logos/") and key.endswith(".png")
        assert channel["logo_url"] == f"{one.url}/media/{key}"  # the platform's own URL: no expiring signature

        status, headers, served = request("GET", two.url + f"/media/{key}")
        assert status == 200
        assert headers["Content-Type"] == "image/png"
        assert served == s3.get(key) and served.startswith(b"\x89PNG")
        assert not list((tmp_path / "node1").rglob("*.png"))  # nothing on the uploading node's disk

        status, _, answer = request("DELETE", two.url + f"/v1/app/channels/{channel['token']}", alice)
        assert status == 204, answer
        assert s3.keys() == []
        assert request("GET", one.url + f"/media/{key}")[0] == 404
    finally:
        for node in nodes:
            node.kill()


@pytest.fixture
def s3_storage(s3, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "kilopush.storage.MediaS3Storage", "OPTIONS": {
        "bucket_name": s3.bucket, "endpoint_url": s3.url, "region_name": "us-east-1", "access_key": "stand-in",
        "secret_key": "stand-in", "querystring_auth": False}}}
    return s3


def test_a_replaced_logo_leaves_the_store_and_the_new_one_is_there(transactional_db, s3_storage):
    alice = make_person()
    channel = Channel.objects.create(owner=alice.user, name="Gate")
    upload = SimpleUploadedFile("a.png", image_bytes(), content_type="image/png")
    channel_update(channel=channel, logo=upload)
    [first] = s3_storage.keys()
    channel_update(channel=channel, logo=SimpleUploadedFile("b.png", image_bytes(color=(0, 0, 255, 255)),
                                                            content_type="image/png"))
    [second] = s3_storage.keys()
    assert second != first and second == channel.logo.name
    channel_update(channel=channel, logo=None)
    assert s3_storage.keys() == []


def test_a_public_url_makes_logo_urls_point_at_the_store(s3_storage, settings):
    default = settings.STORAGES["default"]
    options = {**default["OPTIONS"], "custom_domain": "media.example.org", "url_protocol": "https:"}
    settings.STORAGES = {**settings.STORAGES, "default": {**default, "OPTIONS": options}}

    assert default_storage.url("logos/ab.png") == "https://media.example.org/logos/ab.png"


def w030(settings):
    return [i for i in registry.run_checks(tags=["kilopush"]) if i.id == "kilopush.W030"]


@pytest.mark.django_db
def test_a_deployment_with_local_media_is_warned_w030(settings):
    settings.MEDIA_ROOT_SHARED = False
    [warning] = w030(settings)
    assert not warning.is_serious() and "STORAGE_S3_BUCKET" in warning.hint


@pytest.mark.django_db
def test_a_deployment_with_media_in_a_store_or_a_shared_media_root_is_not_warned(settings, s3_storage):
    settings.MEDIA_ROOT_SHARED = False
    assert w030(settings) == []
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.MEDIA_ROOT_SHARED = True
    assert w030(settings) == []


def manage_check(tmp_path, database_url, **env):
    env = base_env(DATABASE_URL=database_url, KILOPUSH_VAR_DIR=tmp_path / "var", SECRET_KEY="x" * 50, **env)
    return subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=django_settings.BASE_DIR,
                          capture_output=True, text=True, timeout=120)


def test_w030_tells_a_deployment_from_the_embedded_mode(db, tmp_path):
    deployment = manage_check(tmp_path, database_url_for())
    assert "kilopush.W030" in deployment.stdout + deployment.stderr
    embedded = manage_check(tmp_path, f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    assert embedded.returncode == 0, embedded.stderr
    assert "kilopush.W030" not in embedded.stdout + embedded.stderr


@pytest.mark.parametrize("env, said", [
    ({"STORAGE_S3_ENDPOINT_URL": "https://minio.example.org"}, "STORAGE_S3_BUCKET is not"),
    ({"STORAGE_S3_BUCKET": "b", "STORAGE_S3_ACCESS_KEY_ID": "id"}, "or neither"),
    ({"STORAGE_S3_BUCKET": "b", "STORAGE_S3_PUBLIC_URL": "media.example.org"}, "absolute http(s) URL"),
    ({"STORAGE_S3_BUCKET": "b", "STORAGE_S3_ADDRESSING_STYLE": "dns"}, "must be one of auto, path, virtual"),
])
def test_a_half_or_wrong_store_configuration_is_refused_at_start(tmp_path, env, said):
    out = manage_check(tmp_path, f"sqlite:///{tmp_path / 'embedded.sqlite3'}", **env)
    assert out.returncode != 0 and said in out.stderr, out.stderr[-2000:]
