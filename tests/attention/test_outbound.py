"""kilopush.outbound, the one guarded client: https on public addresses only, checked when resolved, no redirects."""

import pytest

from kilopush import outbound
from tests.attention.receiver import receiver  # noqa: F401 (fixture)


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
