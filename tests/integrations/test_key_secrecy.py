"""After its creation a send key appears in no log, no metric and no answer, on every path and every outcome."""

import logging

import pytest
from prometheus_client import REGISTRY, generate_latest

from channels_app.models import SendKey
from channels_app.services import send_key_revoke

pytestmark = pytest.mark.django_db


def every_request(protocol, client, key):
    """The answers of a good send, a malformed one, a wrong method and a revoked key on this path."""
    answers = [protocol.send(client, key), protocol.send_raw(client, key, b"\xff{", "application/json")]
    if protocol.name == "hook":
        answers.append(client.get(f"/v1/hooks/{key}"))
    elif protocol.name == "ntfy":
        answers.append(client.get(f"/{key}"))
    elif protocol.name == "gotify":
        answers.append(client.get(f"/message?token={key}"))
    [send_key] = SendKey.objects.all()
    send_key_revoke(channel=send_key.channel, key_id=send_key.pk)
    answers.append(protocol.send(client, key))
    return answers


def test_no_answer_log_line_or_metric_holds_the_key(protocol, client, key, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger and every logger below it, django.request included
    caplog.set_level(logging.DEBUG, logger="django.request")
    answers = every_request(protocol, client, key)
    assert [answer.status_code for answer in answers][0] == 200 and answers[-1].status_code in (400, 401)
    for answer in answers:
        assert key not in answer.content.decode(errors="replace")
        assert all(key not in value for value in answer.headers.values())
    assert key not in caplog.text
    assert key[2:] not in caplog.text
    assert key not in generate_latest(REGISTRY).decode()


def test_djangos_request_log_would_name_the_path_of_other_4xx_answers(client, caplog):
    # The check above can fail: Django logs other 4xx answers with their path at WARNING.
    caplog.set_level(logging.DEBUG, logger="django.request")
    client.get("/v1/app/channels/c_nothing/keys")  # 401 without an access token
    assert "/v1/app/channels/c_nothing/keys" in caplog.text


def test_every_path_counts_in_the_send_metrics_by_status_only(protocol, client, key):
    def count(status):
        return REGISTRY.get_sample_value("kilopush_sends_total", {"status": status}) or 0

    before = count("200"), count("4003")
    protocol.message_id(protocol.send(client, key))
    protocol.send(client, "k_" + "2" * 40)
    assert (count("200"), count("4003")) == (before[0] + 1, before[1] + 1)
