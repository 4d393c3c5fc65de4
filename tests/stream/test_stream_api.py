"""GET /v1/app/stream through the real `stream` process (uvicorn) on PostgreSQL and Redis."""

import http.client
import json
import socket
import time

import pytest
from django.conf import settings

from messaging.models import Message
from messaging.models import InboxEvent
from tests.procs import database_url_for, start_stream
from tests.stream_support import SseClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def stream_env(django_db_setup):
    return {"DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL, "PORT": "18000"}


@pytest.fixture(scope="module")
def stream(tmp_path_factory, stream_env):
    """One stream process for the module: the tests' data come and go under it, as in production."""
    proc = start_stream(tmp_path_factory.mktemp("stream"), STREAM_KEEPALIVE=30, **stream_env)
    yield proc
    proc.kill()


@pytest.fixture
def clients():
    opened = []

    def _open(url, access_token=None, **kwargs):
        client = SseClient(url, access_token, **kwargs)
        opened.append(client)
        return client

    yield _open
    for client in opened:
        client.close()


@pytest.fixture
def send_to(send, channel):
    def _send(person, text="Door bell"):
        response = send({"to": person.token, "token": channel.token, "secret": channel.secret, "message": text})
        assert response.status_code == 200, response.content
        return int(response.json()["response"]["id"])

    return _send


def stream_url(proc, query=""):
    return proc.url + "/v1/app/stream" + query


def test_a_sent_message_reaches_the_open_stream_as_exactly_its_inbox_item(client, stream, clients, bob, send_to):
    sse = clients(stream_url(stream), bob.access_token)
    assert sse.status == 200
    assert sse.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    sse.wait_for(lambda c: c.comments, what="the opening comment")
    message_id = send_to(bob, "Garage door open")
    [event] = sse.wait_for_messages(1)
    assert event.id == str(message_id)
    [item] = client.get("/v1/app/messages", **bob.auth).json()["messages"]
    assert event.data == json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    assert event.json()["message"] == "Garage door open"


def test_without_last_event_id_only_what_happens_from_then_on_is_sent(stream, clients, bob, send_to):
    send_to(bob, "old")
    sse = clients(stream_url(stream), bob.access_token)
    sse.wait_for(lambda c: c.comments, what="the opening comment")
    new = send_to(bob, "new")
    sse.wait_for_messages(1)
    time.sleep(0.5)
    assert sse.message_ids() == [new]


def test_another_persons_message_does_not_reach_the_stream(stream, clients, alice, bob, send_to):
    sse = clients(stream_url(stream), bob.access_token)
    sse.wait_for(lambda c: c.comments, what="the opening comment")
    send_to(alice, "for alice")
    mine = send_to(bob, "for bob")
    sse.wait_for_messages(1)
    time.sleep(0.5)
    assert sse.message_ids() == [mine]


def test_last_event_id_replays_the_missed_messages_oldest_first_then_goes_on_live(stream, clients, bob, send_to):
    seen = send_to(bob, "seen")
    missed = [send_to(bob, f"missed {i}") for i in range(3)]
    sse = clients(stream_url(stream), bob.access_token, headers={"Last-Event-ID": str(seen)})
    assert [e.json()["message"] for e in sse.wait_for_messages(3)] == ["missed 0", "missed 1", "missed 2"]
    live = send_to(bob, "live")
    sse.wait_for_messages(4)
    assert sse.message_ids() == missed + [live]
    assert not [e for e in sse.events if e.event == "reset"]


def test_after_in_the_query_replays_like_last_event_id(stream, clients, bob, send_to):
    first = send_to(bob, "first")
    second = send_to(bob, "second")
    sse = clients(stream_url(stream, f"?after={first}"), bob.access_token)
    sse.wait_for_messages(1)
    time.sleep(0.3)
    assert sse.message_ids() == [second]


def test_more_than_100_missed_replays_the_oldest_100_then_a_reset(stream, clients, bob, send_to):
    ids = [send_to(bob, f"m{i}") for i in range(103)]
    sse = clients(stream_url(stream, "?after=0"), bob.access_token)
    sse.wait_for(lambda c: any(e.event == "reset" for e in c.events), what="the reset")
    assert sse.message_ids() == ids[:100]
    assert sse.events[100].event == "reset" and sse.events[100].json() == {}
    # After the reset the client re-reads its inbox; the stream goes on with what is new.
    later = send_to(bob, "after the reset")
    sse.wait_for_messages(101)
    assert sse.message_ids()[100:] == [later]


def test_read_and_delete_on_one_device_reach_the_accounts_other_streams(client, stream, clients, bob, send_to):
    phone = clients(stream_url(stream), bob.access_token)
    laptop = clients(stream_url(stream), bob.access_token)
    for sse in (phone, laptop):
        sse.wait_for(lambda c: c.comments, what="the opening comment")
    first, second, third = (send_to(bob, t) for t in ("one", "two", "three"))
    for sse in (phone, laptop):
        sse.wait_for_messages(3)

    assert client.post(f"/v1/app/messages/{first}/read", **bob.auth).status_code == 204
    assert client.post(
        "/v1/app/messages/read", json.dumps({"up_to": second}), content_type="application/json", **bob.auth
    ).status_code == 204
    assert client.delete(f"/v1/app/messages/{third}", **bob.auth).status_code == 204

    for sse in (phone, laptop):
        sse.wait_for(lambda c: len([e for e in c.events if e.event != "message"]) >= 3, what="read, read, deleted")
        changes = [(e.event, e.json()) for e in sse.events if e.event != "message"]
        assert changes == [("read", {"ids": [first]}), ("read", {"up_to": second}), ("deleted", {"id": third})]
        assert all(e.id is None for e in sse.events if e.event != "message")  # Last-Event-ID stays a message id


def test_an_acknowledgement_on_one_device_reaches_the_accounts_other_streams(client, stream, clients, bob, send,
                                                                            channel):
    laptop = clients(stream_url(stream), bob.access_token)
    laptop.wait_for(lambda c: c.comments, what="the opening comment")
    response = send({"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "Disk full",
                     "priority": 2, "retry": 60, "expire": 3600})
    message_id = int(response.json()["response"]["id"])
    laptop.wait_for_messages(1)
    assert laptop.events[-1].json()["acknowledged"] is False

    assert client.post(f"/v1/app/messages/{message_id}/ack", **bob.auth).status_code == 204

    laptop.wait_for(lambda c: any(e.event == "acknowledged" for e in c.events), what="the acknowledged event")
    changes = [(e.event, e.json()) for e in laptop.events if e.event != "message"]
    assert changes == [("read", {"ids": [message_id]}), ("acknowledged", {"id": message_id})]


def test_a_read_that_changes_nothing_sends_nothing(client, stream, clients, bob, send_to):
    message_id = send_to(bob)
    assert client.post(f"/v1/app/messages/{message_id}/read", **bob.auth).status_code == 204
    assert client.post(f"/v1/app/messages/{message_id}/read", **bob.auth).status_code == 204
    assert InboxEvent.objects.filter(user=bob.user).count() == 1


def test_a_keepalive_comment_comes_after_silence(tmp_path, stream_env, clients, bob):
    proc = start_stream(tmp_path, STREAM_KEEPALIVE=0.5, **stream_env)
    try:
        sse = clients(stream_url(proc), bob.access_token)
        sse.wait_for(lambda c: len([m for _, m in c.comments if m == "keepalive"]) >= 3, timeout=10, what="keepalives")
        times = [t for t, m in sse.comments if m == "keepalive"]
        assert all(0.3 < b - a < 2.0 for a, b in zip(times, times[1:]))
    finally:
        proc.kill()


def test_deleting_the_account_closes_its_streams_within_5_seconds(client, stream, clients, bob, alice):
    sse = clients(stream_url(stream), bob.access_token)
    other = clients(stream_url(stream), alice.access_token)
    sse.wait_for(lambda c: c.comments, what="the opening comment")
    deleted = time.monotonic()
    assert client.delete("/v1/app/me", **bob.auth).status_code == 204
    sse.wait_for(lambda c: c.ended is not None, timeout=5, what="the stream to close")
    assert sse.ended - deleted < 5
    assert other.ended is None


@pytest.mark.parametrize(
    "headers, query",
    [
        ({}, ""),
        ({"Authorization": "Bearer a_not-a-real-token"}, ""),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, ""),
        ({}, "?access_token={token}"),  # never a token in the URL
    ],
)
def test_without_a_valid_bearer_token_the_answer_is_the_401_envelope(stream, bob, headers, query):
    sse = SseClient(stream_url(stream, query.format(token=bob.access_token)), headers=headers)
    assert sse.status == 401
    assert json.loads(sse.body)["response"]["status"] == 4001
    assert sse.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers, query", [({"Last-Event-ID": "x1"}, ""), ({}, "?after=-3"), ({}, "?after=1&after=2")])
def test_a_bad_last_event_id_is_4005(stream, bob, headers, query):
    sse = SseClient(stream_url(stream, query), bob.access_token, headers=headers)
    assert sse.status == 400
    assert json.loads(sse.body)["response"]["status"] == 4005


def preflight(proc, origin):
    http_conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=5)
    http_conn.request(
        "OPTIONS",
        "/v1/app/stream",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,last-event-id",
        },
    )
    response = http_conn.getresponse()
    response.read()
    http_conn.close()
    return response


def test_the_preflight_allows_the_sites_origin_with_authorization_and_last_event_id(stream, clients, bob):
    for origin in ("http://127.0.0.1:18000", "http://localhost:18000"):
        response = preflight(stream, origin)
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == origin
        allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "last-event-id"} <= allowed
        assert "GET" in response.headers["Access-Control-Allow-Methods"]
    sse = clients(stream_url(stream), bob.access_token, headers={"Origin": "http://localhost:18000"})
    assert sse.headers["Access-Control-Allow-Origin"] == "http://localhost:18000"


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:18001", "https://localhost:18000"])
def test_another_origin_gets_no_cors_permission(stream, bob, origin):
    response = preflight(stream, origin)
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    sse = SseClient(stream_url(stream), bob.access_token, headers={"Origin": origin})
    assert sse.status == 200
    assert "Access-Control-Allow-Origin" not in sse.headers
    sse.close()


def test_with_site_url_the_origin_is_site_urls(tmp_path, stream_env):
    # SITE_URL's host must be allowed (configuration check kilopush.E031 refuses to start otherwise).
    proc = start_stream(tmp_path, SITE_URL="https://push.example.org/", ALLOWED_HOSTS="push.example.org,127.0.0.1",
                        **stream_env)
    try:
        assert preflight(proc, "https://push.example.org").headers["Access-Control-Allow-Origin"] == (
            "https://push.example.org"
        )
        assert preflight(proc, "http://127.0.0.1:18000").status == 403
    finally:
        proc.kill()


def test_the_stream_is_refused_on_the_wsgi_server(client, bob):
    response = client.get("/v1/app/stream", **bob.auth)
    assert response.status_code == 404
    assert response.json()["response"]["status"] == 4004


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/messages/send"), ("POST", "/v1/app/register"), ("GET", "/healthz"), ("GET", "/metrics"),
    ("GET", "/admin/login/"), ("GET", "/v1/app/stream/"), ("GET", "/"),
])
def test_the_stream_process_answers_every_other_path_with_the_404_envelope(stream, bob, channel, method, path):
    body = json.dumps({"to": bob.token, "token": channel.token, "secret": channel.secret, "message": "around"})
    status, answer = raw_request(stream, method, path, "Content-Type: application/json\r\n"
                                 f"Content-Length: {len(body)}\r\nX-Forwarded-For: 10.0.0.1\r\n", body.encode())
    assert status.startswith("HTTP/1.1 404"), status
    assert json.loads(answer)["response"]["status"] == 4004
    assert not Message.objects.filter(text="around").exists()


def test_a_lower_id_committed_after_a_higher_one_still_reaches_the_stream(stream, clients, bob, channel, send_to):
    import psycopg

    sse = clients(stream_url(stream), bob.access_token)
    sse.wait_for(lambda c: c.comments, what="the opening comment")
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]) as late:
        late_id = late.execute(
            f"INSERT INTO {Message._meta.db_table} (recipient_id, channel_id, text, url, had_devices, created_at) "
            "VALUES (%s, %s, 'slow transaction', '', false, now()) RETURNING id",
            (bob.user.pk, channel.pk),
        ).fetchone()[0]
        early_id = send_to(bob, "committed first")  # a higher id, committed while the lower one is not
        assert early_id > late_id
        sse.wait_for(lambda c: early_id in c.message_ids(), what="the higher id")
        late.commit()  # no wake-up for this one: the poller's re-read finds it
    sse.wait_for(lambda c: late_id in c.message_ids(), what="the lower id committed later")
    assert sse.message_ids() == [early_id, late_id]


def raw_request(proc, method, path, head_extra, body=b"", chunks=None):
    """Sends through a raw socket; returns (status line, body) of the answer."""
    with socket.create_connection(("127.0.0.1", proc.port), timeout=15) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head_extra}\r\n".encode()
        if chunks is not None:
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        sock.sendall(head + body)
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    status, _, rest = answer.partition(b"\r\n")
    return status.decode(), rest.partition(b"\r\n\r\n")[2]


def test_the_stream_process_refuses_a_chunked_body_over_the_cap_with_4000(stream):
    big = [b"x" * 40000, b"y" * 40000]  # 80 KB, over DATA_UPLOAD_MAX_MEMORY_SIZE (64 KB)
    status, body = raw_request(stream, "GET", "/v1/app/stream", "Transfer-Encoding: chunked\r\n", chunks=big)
    assert status.startswith("HTTP/1.1 400"), status
    assert json.loads(body)["response"]["status"] == 4000


def test_the_stream_process_refuses_a_declared_body_over_the_cap_before_reading_it(stream):
    head = "Content-Type: application/json\r\nContent-Length: 10000000\r\n"
    status, body = raw_request(stream, "GET", "/v1/app/stream", head, body=b"{")  # the rest never comes
    assert status.startswith("HTTP/1.1 400"), status
    assert json.loads(body)["response"]["status"] == 4000


def test_a_page_of_the_site_gets_logo_urls_on_the_sites_origin_not_the_streams(stream, clients, bob, send_to, channel):
    """make run serves the stream on PORT + 1, which serves no /media/: the web app's logos must point at PORT."""
    from channels_app.models import Channel

    Channel.objects.filter(pk=channel.pk).update(logo="logos/front-door.png")
    page = clients(stream_url(stream), bob.access_token, headers={"Origin": "http://127.0.0.1:18000"})
    app = clients(stream_url(stream), bob.access_token)  # a phone: no Origin
    for sse in (page, app):
        sse.wait_for(lambda c: c.comments, what="the opening comment")
    send_to(bob, "Knock")
    [from_page] = page.wait_for_messages(1)
    [from_app] = app.wait_for_messages(1)
    assert from_page.json()["channel"]["logo_url"] == "http://127.0.0.1:18000/media/logos/front-door.png"
    assert from_app.json()["channel"]["logo_url"] == f"{stream.url}/media/logos/front-door.png"


def test_a_replay_to_a_page_of_the_site_also_gets_logo_urls_on_the_sites_origin(stream, clients, bob, send_to, channel):
    """The replay after Last-Event-ID renders like the live frames (it had the stream's own origin)."""
    from channels_app.models import Channel

    Channel.objects.filter(pk=channel.pk).update(logo="logos/front-door.png")
    seen = send_to(bob, "Before")
    send_to(bob, "Missed")
    page = clients(stream_url(stream), bob.access_token,
                   headers={"Origin": "http://127.0.0.1:18000", "Last-Event-ID": str(seen)})
    [replayed] = page.wait_for_messages(1)
    assert replayed.json()["message"] == "Missed"
    assert replayed.json()["channel"]["logo_url"] == "http://127.0.0.1:18000/media/logos/front-door.png"
