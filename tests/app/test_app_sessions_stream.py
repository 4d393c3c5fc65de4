"""A revoked session's live streams close (the real `stream` process on PostgreSQL and Redis)."""

import time

import pytest
from django.conf import settings

from tests.procs import database_url_for, start_stream
from tests.stream_support import SseClient
from users_app.models import AccessToken
from users_app.services import access_token_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stream(tmp_path, django_db_setup):
    proc = start_stream(
        tmp_path, STREAM_KEEPALIVE=30, DATABASE_URL=database_url_for(), REDIS_URL=settings.REDIS_URL, PORT="18000"
    )
    yield proc
    proc.kill()


def test_revoking_a_session_closes_its_streams_and_only_its_streams(client, stream, alice):
    laptop = access_token_create(user=alice.user, label="Laptop")
    laptop_id = AccessToken.objects.get(user=alice.user, label="Laptop").pk
    url = stream.url + "/v1/app/stream"
    revoked, kept = SseClient(url, laptop), SseClient(url, alice.access_token)
    try:
        for sse in (revoked, kept):
            assert sse.status == 200
            sse.wait_for(lambda c: c.comments, what="the opening comment")
        started = time.monotonic()
        assert client.delete(f"/v1/app/sessions/{laptop_id}", **alice.auth).status_code == 204
        revoked.wait_for(lambda c: c.ended is not None, timeout=15, what="the revoked session's stream to close")
        assert revoked.ended - started < 15
        assert kept.ended is None
        again = SseClient(url, laptop)
        assert again.status == 401
        again.close()
    finally:
        revoked.close()
        kept.close()
