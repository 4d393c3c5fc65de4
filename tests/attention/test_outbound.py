"""kilopush.outbound, the one guarded client: https on public addresses only, checked when resolved, no redirects."""

import socket
import time

import pytest

from kilopush import outbound
from tests.attention.receiver import keep_alive_receiver, receiver  # noqa: F401 (fixtures)


@pytest.mark.parametrize("url", [
    "ftp://example.com/x", "file:///etc/passwd", "gopher://example.com", "javascript:alert(1)",
    "http://example.com/hook",  # plain http on a host that is not allow-listed
    "https://10.0.0.1/hook", "https://10.200.3.4/", "https://127.0.0.1/", "https://[::1]/", "https://169.254.169.254/",
    "https://192.168.1.1/", "https://172.16.0.1/", "https://[fe80::1]/", "https://0.0.0.0/", "https://[::ffff:127.0.0.1]/",
    "https://user:pw@example.com/", "https:///nohost", "https://exa mple.com/", "",
])
def test_it_refuses_urls_that_are_not_https_on_a_public_address(url):
    with pytest.raises(outbound.Refused):
        outbound.parse(url)


def test_it_accepts_https_on_a_public_address():
    target = outbound.parse("https://93.184.215.14:8443/hook?x=1")
    assert (target.host, target.port, target.path) == ("93.184.215.14", 8443, "/hook?x=1")


def test_a_name_that_resolves_to_loopback_is_refused_when_resolved():
    with pytest.raises(outbound.Refused, match="not public"):
        outbound.check("https://localhost/hook")


def test_an_allow_listed_host_may_be_private_and_plain_http():
    assert outbound.check("http://127.0.0.1:9/hook", allow_hosts=("127.0.0.1",)).scheme == "http"
    with pytest.raises(outbound.Refused):
        outbound.check("http://127.0.0.1:9/hook", allow_hosts=("127.0.0.2",))


def test_the_guard_runs_again_at_send_time():
    with pytest.raises(outbound.Refused):
        outbound.post("https://localhost:9/hook", b"{}")


def test_a_redirect_is_answered_not_followed(receiver):
    receiver.answer(302, headers={"Location": receiver.url + "/elsewhere"})
    answer = outbound.post(receiver.url, b"{}", allow_hosts=("127.0.0.1",))
    assert (answer.status, answer.ok) == (302, False)
    assert [r["path"] for r in receiver.requests] == ["/hook"]


def test_a_slow_receiver_times_out(receiver):
    receiver.answer(204, delay=2)
    answer = outbound.post(receiver.url, b"{}", allow_hosts=("127.0.0.1",), timeout=0.5)
    assert (answer.status, answer.error) == (None, "timeout")


def test_at_most_max_response_bytes_of_the_answer_are_read(receiver):
    receiver.answer(200, body=b"x" * 100_000)
    answer = outbound.post(receiver.url, b"{}", allow_hosts=("127.0.0.1",), max_response=1000)
    assert answer.ok and len(answer.body) == 1000


def test_nothing_listening_is_an_answer_not_an_exception():
    answer = outbound.post("http://127.0.0.1:9/hook", b"{}", allow_hosts=("127.0.0.1",), timeout=2)
    assert answer.status is None and answer.error


# --- a client kept for a batch of posts (the webhook worker's pass, issue 27) ---


def test_a_client_posts_over_one_kept_connection(keep_alive_receiver):
    with outbound.Client(allow_hosts=("127.0.0.1",)) as client:
        answers = [client.post(keep_alive_receiver.url, b"{}") for _ in range(3)]
    assert [a.status for a in answers] == [204, 204, 204]
    assert len({r["client"] for r in keep_alive_receiver.requests}) == 1


def test_a_kept_connection_sends_without_nagles_delay(keep_alive_receiver):
    """http.client writes a POST's head and body apart: with Nagle's algorithm on, the body of every POST after
    the first waited for the receiver's delayed ACK (40 ms on Linux), 22 webhook events a second."""
    with outbound.Client(allow_hosts=("127.0.0.1",)) as client:
        assert client.post(keep_alive_receiver.url, b"{}").status == 204
        (kept,) = client._open.values()
        assert kept.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_receiver_that_closes_each_connection_gets_a_new_one_per_post(receiver):
    with outbound.Client(allow_hosts=("127.0.0.1",)) as client:
        answers = [client.post(receiver.url, b"{}") for _ in range(3)]
    assert [a.status for a in answers] == [204, 204, 204]
    assert len({r["client"] for r in receiver.requests}) == 3


def test_a_kept_connection_the_receiver_closed_is_replaced_and_the_post_sent_once(keep_alive_receiver):
    with outbound.Client(allow_hosts=("127.0.0.1",)) as client:
        assert client.post(keep_alive_receiver.url, b"1").ok
        time.sleep(0.8)  # the receiver closes the idle connection after 0.3 s
        assert client.post(keep_alive_receiver.url, b"2").ok
    assert [r["body"] for r in keep_alive_receiver.requests] == [b"1", b"2"]
    assert len({r["client"] for r in keep_alive_receiver.requests}) == 2


def test_an_answer_longer_than_max_response_closes_the_kept_connection(keep_alive_receiver):
    keep_alive_receiver.answer(200, body=b"x" * 5000)
    with outbound.Client(allow_hosts=("127.0.0.1",), max_response=1000) as client:
        assert len(client.post(keep_alive_receiver.url, b"{}").body) == 1000
        assert client.post(keep_alive_receiver.url, b"{}").status == 204
    assert len({r["client"] for r in keep_alive_receiver.requests}) == 2


def test_a_client_checks_a_refused_url_every_time():
    with outbound.Client() as client:
        for _ in range(2):
            with pytest.raises(outbound.Refused):
                client.post("https://localhost:9/hook", b"{}")
