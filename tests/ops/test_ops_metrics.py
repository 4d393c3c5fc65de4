"""GET /metrics: access (METRICS_TOKEN, METRICS_ALLOWED_IPS) and the fixed families moving after sends and
deliveries, added up across processes (gunicorn workers and a celery worker)."""

import json
import time

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from channels_app.services import channel_create
from messaging.models import Delivery
from tests.people import make_person
from tests.delivery_fixtures import fake_env
from tests.procs import database_url_for, http, start_gunicorn, start_worker
from users_app.models import Device

TOKEN = "metrics-test-token"


def samples(text):
    """{(sample name, frozenset(labels)): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scrape, name, **labels):
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return samples(response.content.decode())


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    return settings


def test_it_is_404_without_a_metrics_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"])
def test_it_is_401_without_the_bearer_token(client, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"kilopush_" not in response.content


def test_it_answers_the_prometheus_text_format(client, metrics_on):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"kilopush_sends", "kilopush_send_duration_seconds", "kilopush_deliveries",
            "kilopush_accept_to_provider_seconds", "kilopush_due_deliveries", "kilopush_streams_open"} <= names


def test_allowed_ips_refuse_other_addresses(client, metrics_on):
    import ipaddress

    metrics_on.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", **headers).status_code == 200


def test_allowed_ips_key_on_the_client_behind_a_trusted_proxy(client, metrics_on):
    import ipaddress

    metrics_on.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]
    metrics_on.TRUSTED_PROXY_COUNT = 1
    headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}", "REMOTE_ADDR": "127.0.0.1"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.9.9.9", **headers).status_code == 200
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="10.9.9.9, 8.8.8.8", **headers).status_code == 403


@pytest.mark.django_db
def test_a_send_moves_the_send_families(client, metrics_on, send, valid_fields):
    before = scrape(client)
    assert send(valid_fields).status_code == 200
    assert send({**valid_fields, "secret": "wrong"}).json()["response"]["status"] == 4003
    after = scrape(client)
    assert value(after, "kilopush_sends_total", status="200") == value(before, "kilopush_sends_total", status="200") + 1
    assert value(after, "kilopush_sends_total", status="4003") == value(before, "kilopush_sends_total", status="4003") + 1
    assert value(after, "kilopush_send_duration_seconds_count") == value(before, "kilopush_send_duration_seconds_count") + 2
    assert (value(after, "kilopush_messages_accepted_total", verification="unverified")
            == value(before, "kilopush_messages_accepted_total", verification="unverified") + 1)


def test_the_error_code_of_a_provider_answer_is_short_and_bounded():
    from kilopush.metrics import error_code

    assert error_code("FCM 404 UNREGISTERED: Requested entity was not found.") == "UNREGISTERED"
    assert error_code("APNs 410 Unregistered") == "Unregistered"
    assert error_code("APNs 500 (no body)") == "500"
    assert error_code("FCM timeout") == "timeout"
    assert error_code("APNs connection: ConnectionError refused") == "connection"
    assert error_code("provider failure: ValueError") == "provider_failure"
    assert error_code("") == "unknown"


@pytest.mark.slow
def test_counters_add_up_across_the_web_and_worker_processes(transactional_db, tmp_path, fcm, apns):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    common = {"PROMETHEUS_MULTIPROC_DIR": shared, "DATABASE_URL": database_url_for(), "REDIS_URL": settings.REDIS_URL}
    owner = make_person()
    channel = channel_create(owner=owner.user, name="Metrics")
    alive = make_person(push_token="fcm-metrics-alive")
    dead = make_person(push_token="fcm-metrics-dead")
    fcm.script.set_outcomes("fcm-metrics-dead", ["unregistered"])
    web = start_gunicorn(tmp_path, METRICS_TOKEN=TOKEN, WEB_CONCURRENCY=2, **common)
    worker = start_worker(tmp_path, METRICS_SAMPLE_INTERVAL=1, **fake_env(fcm, apns), **common)
    try:
        for person in (alive, dead):
            body = {"to": person.token, "token": channel.token, "secret": channel.secret, "message": "hello"}
            status, _, answer = http("POST", web.url + "/v1/messages/send", json.dumps(body))
            assert status == 200, answer
        deadline = time.monotonic() + 30
        while Delivery.objects.filter(state__in=[Delivery.QUEUED, Delivery.SENDING]).exists():
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.1)
        assert not Device.objects.get(user=dead.user).is_active

        sampled_after = worker.log().count("sample_metrics")
        while worker.log().count("sample_metrics") < sampled_after + 4:  # received and succeeded, twice
            assert time.monotonic() < deadline + 10, "beat never sampled kilopush_due_deliveries"
            time.sleep(0.2)
        found = samples(_get(web.url + "/metrics"))
    finally:
        web.kill()
        worker.kill()
    # Written by the gunicorn workers:
    assert value(found, "kilopush_sends_total", status="200") == 2
    assert value(found, "kilopush_messages_accepted_total", verification="unverified") == 2
    assert value(found, "kilopush_send_duration_seconds_count") == 2
    # Written by the celery worker:
    assert value(found, "kilopush_deliveries_total", platform="android", outcome="accepted") == 1
    assert value(found, "kilopush_deliveries_total", platform="android", outcome="invalid_token") == 1
    assert value(found, "kilopush_accept_to_provider_seconds_count", platform="android") == 1
    assert value(found, "kilopush_provider_errors_total", platform="android", code="UNREGISTERED") == 1
    assert value(found, "kilopush_devices_deactivated_total", platform="android") == 1
    assert ("kilopush_due_deliveries", frozenset()) in found and value(found, "kilopush_due_deliveries") == 0


@pytest.mark.django_db
def test_beat_samples_the_due_deliveries(client, metrics_on, bob, channel, send, valid_fields):
    from messaging.tasks import sample_metrics

    assert send(valid_fields).status_code == 200  # bob's device: one queued delivery, due now
    sample_metrics()
    assert value(scrape(client), "kilopush_due_deliveries") == 1
    Delivery.objects.update(state=Delivery.ACCEPTED)
    sample_metrics()
    assert value(scrape(client), "kilopush_due_deliveries") == 0


def _get(url):
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_the_grafana_dashboard_uses_only_names_the_platform_exports(client, metrics_on):
    import re

    dashboard = json.loads((settings.BASE_DIR / "deploy" / "grafana" / "kilopush-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"kilopush_[a-z_]+", expr)}
    exported = {name for name, _ in scrape(client)}
    assert used and used <= exported, used - exported
    assert {"kilopush_sends_total", "kilopush_deliveries_total", "kilopush_due_deliveries",
            "kilopush_streams_open"} <= used
