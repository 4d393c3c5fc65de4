"""Attachments in the S3-compatible store (STORAGE_S3_*), moto's server standing in: stored through one node, served
by another, and gone from the store (the URL a 404) once the message is withdrawn (issue 25)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from channels_app.services import channel_create
from tests.nodes.s3 import s3  # noqa: F401 (s3: a fixture)
from tests.nodes.test_nodes_media import request
from tests.people import make_person
from tests.procs import database_url_for, start_gunicorn
from tests.send import images

pytestmark = pytest.mark.slow


def test_an_attachment_lives_in_the_store_is_served_by_any_node_and_goes_with_its_message(
        transactional_db, s3, tmp_path, settings):
    nodes = [start_gunicorn(tmp_path, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL,
                            KILOPUSH_VAR_DIR=tmp_path / f"node{i}", WEB_CONCURRENCY=1, **s3.env()) for i in (1, 2)]
    try:
        one, two = nodes
        alice, bob = make_person(), make_person()
        channel = channel_create(owner=alice.user, name="Door camera")
        fields = {"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "Motion",
                  "attachment": SimpleUploadedFile("door.jpg", images.jpeg_with_gps(), content_type="image/jpeg")}
        status, _, answer = request("POST", one.url + "/v1/messages/send", None, encode_multipart(BOUNDARY, fields),
                                    MULTIPART_CONTENT)
        assert status == 200, answer
        message_id = json.loads(answer)["response"]["id"]
        [key] = s3.keys()
        assert key.startswith("attachments/") and key.endswith(".jpg")
        assert not list((tmp_path / "node1").rglob("*.jpg"))  # nothing on the uploading node's disk

        status, _, inbox = request("GET", two.url + "/v1/app/messages", bob)
        [item] = json.loads(inbox)["messages"]
        assert item["attachment"]["url"] == f"{two.url}/media/{key}"
        status, headers, served = request("GET", item["attachment"]["url"])
        assert (status, headers["Content-Type"]) == (200, "image/jpeg")
        assert served == s3.get(key) and b"SpyCam" not in served

        withdraw = json.dumps({"token": channel.token, "secret": channel.secret, "id": message_id}).encode()
        status, _, answer = request("POST", two.url + "/v1/messages/withdraw", None, withdraw, "application/json")
        assert status == 200, answer
        assert s3.keys() == []
        assert request("GET", one.url + f"/media/{key}")[0] == 404
    finally:
        for node in nodes:
            node.kill()
