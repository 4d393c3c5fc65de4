"""The Web Push provider against the local push service over TLS: every answer mapped, the payload, VAPID."""

import base64
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from messaging import vapid
from messaging.providers import get_provider
from messaging.providers.base import Outcome, Push
from messaging.providers.webpush import MAX_PAYLOAD_BYTES, payload, topic


def push(subscription, **kwargs):
    fields = dict(delivery_id=1, token=subscription["endpoint"], title="Alice's alarms", body="Door bell",
                  data={"message_id": "7", "channel_token": "c_abc", "url": "https://example.com/x"},
                  important=True, image="https://kilo.example/media/logos/a.png", badge=3, collapse_id="7",
                  web_keys=subscription["keys"], created_at="2026-11-28T06:00:00.123456Z", channel_verified=True)
    fields.update(kwargs)
    return Push(**fields)


@pytest.fixture
def subscription(web_subscription):
    return web_subscription()


def send_one(webpush, subscription, outcomes, **kwargs):
    webpush.script.set_outcomes(subscription["endpoint"], outcomes)
    [result] = get_provider("web").send([push(subscription, **kwargs)])
    return result


def test_it_accepts_with_the_location_as_the_provider_id(webpush_settings, webpush, subscription):
    result = send_one(webpush, subscription, ["ok"])
    assert result.outcome is Outcome.ACCEPTED
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/m/[0-9a-f]{32}", result.provider_id)


def test_the_decrypted_payload_is_the_inbox_item_with_the_unread_count(webpush_settings, webpush, subscription):
    send_one(webpush, subscription, ["ok"])
    [received] = webpush.script.accepted(subscription["endpoint"])
    assert received["payload"] == {
        "id": 7,
        "channel": {"token": "c_abc", "name": "Alice's alarms", "logo_url": "https://kilo.example/media/logos/a.png",
                    "verified": True},
        "title": None,
        "message": "Door bell",
        "image": None,
        "url": "https://example.com/x",
        "important": True,
        "priority": 0,
        "acknowledged": False,
        "actions": [],
        "created_at": "2026-11-28T06:00:00.123456Z",
        "unread": 3,
    }


def test_a_title_is_in_the_payload_beside_the_channel_name(webpush_settings, webpush, subscription):
    send_one(webpush, subscription, ["ok"], message_title="Backup failed")
    [received] = webpush.script.accepted(subscription["endpoint"])
    assert (received["payload"]["title"], received["payload"]["channel"]["name"]) == ("Backup failed", "Alice's alarms")


def test_an_attachment_is_the_payloads_image(webpush_settings, webpush, subscription):
    send_one(webpush, subscription, ["ok"], attachment="https://kilo.example/media/attachments/a.jpg")
    [received] = webpush.script.accepted(subscription["endpoint"])
    assert received["payload"]["image"] == "https://kilo.example/media/attachments/a.jpg"


def test_a_missing_url_and_logo_are_null_like_in_the_inbox(webpush_settings, webpush, subscription):
    send_one(webpush, subscription, ["ok"], data={"message_id": "7", "channel_token": "c_abc"}, image="",
             important=None, badge=0)
    [received] = webpush.script.accepted(subscription["endpoint"])
    assert (received["payload"]["url"], received["payload"]["channel"]["logo_url"]) == (None, None)
    assert (received["payload"]["important"], received["payload"]["unread"]) == (None, 0)


def test_the_vapid_token_verifies_against_the_servers_public_key(webpush_settings, webpush, subscription, vapid_pem):
    send_one(webpush, subscription, ["ok"])
    [received] = webpush.script.accepted(subscription["endpoint"])
    claims = received["claims"]
    origin = re.match(r"https://[^/]+", subscription["endpoint"]).group(0)
    assert claims["aud"] == origin
    assert claims["sub"] == "mailto:admin@localhost"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    # the stand-in checked the signature with the subscription's applicationServerKey, which is ours
    bound_to = webpush.subscription(received["subscription"]).application_server_key
    assert bound_to == vapid.public_key_point(vapid.load_pem(vapid_pem))


def test_the_headers_ask_for_the_retry_window_high_urgency_and_a_topic(webpush_settings, webpush, subscription):
    webpush_settings.DELIVERY_MAX_AGE = 7200.0
    send_one(webpush, subscription, ["ok"], collapse_id="123456789")
    [received] = webpush.script.accepted(subscription["endpoint"])
    assert received["headers"]["ttl"] == "7200"
    assert received["headers"]["urgency"] == "high"
    assert received["headers"]["topic"] == "m123456789"
    assert received["headers"]["content-encoding"] == "aes128gcm"


def test_the_topic_is_at_most_32_url_safe_characters():
    subscription = {"endpoint": "https://x/push/1", "keys": {}}
    value = topic(push(subscription, collapse_id=str(2**63 - 1)))
    assert len(value) <= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", value)


@pytest.mark.parametrize("answer", ["unregistered", "bad_token"])
def test_404_and_410_are_invalid_token(webpush_settings, webpush, subscription, answer):
    result = send_one(webpush, subscription, [answer])
    assert result.outcome is Outcome.INVALID_TOKEN
    assert result.reason.startswith("Web Push 410" if answer == "unregistered" else "Web Push 404")


def test_an_unsubscribed_endpoint_is_invalid_token(webpush_settings, webpush, subscription):
    webpush.unsubscribe(subscription["endpoint"])
    assert send_one(webpush, subscription, []).outcome is Outcome.INVALID_TOKEN


def test_429_retries_after_its_retry_after(webpush_settings, webpush, subscription):
    result = send_one(webpush, subscription, ["rate_limited:120"])
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 120


@pytest.mark.parametrize("answer", ["unavailable", "internal", "internal_empty", "drop"])
def test_a_transient_failure_is_retry(webpush_settings, webpush, subscription, answer):
    assert send_one(webpush, subscription, [answer]).outcome is Outcome.RETRY


def test_a_transient_failure_is_not_retried_inside_the_call(webpush_settings, webpush, subscription):
    send_one(webpush, subscription, ["unavailable", "ok"])
    assert [p["answer"] for p in webpush.script.pushes] == ["unavailable"]


def test_an_unanswered_request_times_out_as_retry(webpush_settings, webpush, subscription):
    result = send_one(webpush, subscription, ["hang"])
    assert result.outcome is Outcome.RETRY
    assert "timeout" in result.reason


@pytest.mark.parametrize("answer", ["provider_token", "sender_id_mismatch"])
def test_401_and_403_are_retried_and_logged_at_error(webpush_settings, webpush, subscription, answer, caplog):
    with caplog.at_level(logging.ERROR, logger="messaging.providers.webpush"):
        result = send_one(webpush, subscription, [answer])
    assert result.outcome is Outcome.RETRY
    assert any(r.levelno == logging.ERROR and "VAPID" in r.getMessage() for r in caplog.records)


def test_another_servers_vapid_key_is_refused_with_403(webpush_settings, webpush, subscription, caplog):
    webpush_settings.VAPID_PRIVATE_KEY = vapid.generate_pem()
    from messaging import providers

    providers.reset()
    with caplog.at_level(logging.ERROR, logger="messaging.providers.webpush"):
        result = send_one(webpush, subscription, ["ok"])
    assert result.outcome is Outcome.RETRY and result.reason.startswith("Web Push 403")
    [refusal] = webpush.script.pushes
    assert refusal["answer"] == "refused" and "applicationServerKey" in refusal["reason"]


def test_another_4xx_is_rejected(webpush_settings, webpush, subscription):
    result = send_one(webpush, subscription, ["invalid_argument"])
    assert result.outcome is Outcome.REJECTED
    assert result.reason.startswith("Web Push 400")


@pytest.fixture
def elsewhere():
    """Another local server (plain http) that records every request reaching it."""
    hits = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append((self.path, self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.hits = hits
    server.url = f"http://127.0.0.1:{server.server_address[1]}/collect"
    yield server
    server.shutdown()
    server.server_close()


def test_a_redirect_is_not_followed_and_rejects_the_push(webpush_settings, webpush, subscription, elsewhere):
    webpush.redirect_location = elsewhere.url  # https -> http, off WEBPUSH_ENDPOINT_HOSTS' ports
    result = send_one(webpush, subscription, ["redirect", "ok"])
    assert result.outcome is Outcome.REJECTED
    assert result.reason.startswith("Web Push 307") and "not followed" in result.reason
    assert elsewhere.hits == []
    assert [p["answer"] for p in webpush.script.pushes] == ["redirect"]  # posted once, to the endpoint only


def test_a_redirect_to_the_same_push_service_is_not_followed_either(webpush_settings, webpush, subscription):
    webpush.redirect_location = subscription["endpoint"].replace("127.0.0.1", "localhost")
    result = send_one(webpush, subscription, ["redirect", "ok"])
    assert result.outcome is Outcome.REJECTED
    assert [p["answer"] for p in webpush.script.pushes] == ["redirect"]


def test_an_endpoint_whose_port_is_not_listed_is_never_posted_to(webpush_settings, webpush, subscription):
    webpush_settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1", "localhost"]  # port 443 only; the stand-in is not there
    from messaging import providers

    providers.reset()
    result = send_one(webpush, subscription, ["ok"])
    assert result.outcome is Outcome.INVALID_TOKEN
    assert webpush.script.pushes == []


def test_the_self_signed_certificate_is_refused_without_the_ca_file(webpush_settings, webpush, subscription):
    webpush_settings.WEBPUSH_CA_FILE = ""
    from messaging import providers

    providers.reset()
    result = send_one(webpush, subscription, ["ok"])
    assert result.outcome is Outcome.RETRY and "SSLError" in result.reason
    assert webpush.script.pushes == []


def test_many_pushes_go_out_concurrently(webpush_settings, webpush, web_subscription):
    subscriptions = [web_subscription() for _ in range(20)]
    webpush.script.set_default("ok", latency=0.2)
    results = get_provider("web").send([push(s, delivery_id=i) for i, s in enumerate(subscriptions)])
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    assert webpush.script.snapshot()["max_in_flight"] > 1


def test_a_long_text_is_shortened_to_fit_and_the_url_is_kept(webpush_settings, webpush, subscription):
    url = "https://example.com/" + "u" * 980
    text = "ü" * 1000 + "😀" * 1000
    send_one(webpush, subscription, ["ok"], body=text, data={"message_id": "7", "channel_token": "c_abc", "url": url})
    [received] = webpush.script.accepted(subscription["endpoint"])
    assert received["plaintext_bytes"] <= MAX_PAYLOAD_BYTES
    assert received["payload"]["url"] == url
    message = received["payload"]["message"]
    assert message.endswith("…") and text.startswith(message[:-1]) and len(message) > 500


def test_the_payload_is_cut_as_little_as_possible():
    subscription = {"endpoint": "https://x/push/1", "keys": {}}
    for length in (1000, 3000, 5000):
        data = payload(push(subscription, body="é" * length))
        shown = json.loads(data)["message"]
        assert len(data) <= MAX_PAYLOAD_BYTES
        if shown.endswith("…"):  # one more character would not have fitted
            document = json.loads(data)
            document["message"] = "é" * len(shown) + "…"
            assert len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()) > MAX_PAYLOAD_BYTES
        else:
            assert shown == "é" * length


def test_a_short_text_is_never_touched():
    subscription = {"endpoint": "https://x/push/1", "keys": {}}
    assert json.loads(payload(push(subscription, body="Door bell …")))["message"] == "Door bell …"


# --- the stand-in's own checks: it must refuse what a real push service refuses ---


def vapid_request(webpush, subscription, pem, claims, body=b"x", **headers):
    key = vapid.load_pem(pem)
    token = jwt.encode(claims, key, algorithm="ES256")
    k = base64.urlsafe_b64encode(vapid.public_key_point(key)).rstrip(b"=").decode()
    return requests.post(subscription["endpoint"], data=body, verify=webpush.env["WEBPUSH_CA_FILE"], timeout=5,
                         headers={"Authorization": f"vapid t={token}, k={k}", "TTL": "60",
                                  "Content-Encoding": "aes128gcm", **headers})


def origin_of(subscription):
    return re.match(r"https://[^/]+", subscription["endpoint"]).group(0)


@pytest.mark.parametrize("change", [
    {"aud": "https://push.example.com"},
    {"exp": int(time.time()) + 25 * 3600},
    {"exp": int(time.time()) - 10},
    {"sub": None},
])
def test_the_stand_in_refuses_a_bad_vapid_token(webpush, subscription, vapid_pem, change):
    claims = {"aud": origin_of(subscription), "exp": int(time.time()) + 3600, "sub": "mailto:a@example.com", **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    response = vapid_request(webpush, subscription, vapid_pem, claims)
    assert response.status_code == 401
    assert webpush.script.accepted() == []


def test_the_stand_in_refuses_a_body_it_cannot_decrypt(webpush, subscription, vapid_pem):
    claims = {"aud": origin_of(subscription), "exp": int(time.time()) + 3600, "sub": "mailto:a@example.com"}
    response = vapid_request(webpush, subscription, vapid_pem, claims, body=b"\0" * 100)
    assert response.status_code == 400


def test_the_stand_in_hands_out_browser_like_subscriptions(webpush):
    response = requests.post(webpush.control_url + "/_fake/subscriptions", json={}, timeout=5)
    assert response.status_code == 201
    body = response.json()
    assert body["endpoint"].startswith(webpush.url + "/push/")
    point = base64.urlsafe_b64decode(body["keys"]["p256dh"] + "==")
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    assert len(base64.urlsafe_b64decode(body["keys"]["auth"] + "==")) == 16
