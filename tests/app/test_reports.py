"""POST /v1/app/reports: a recipient reports a message or a channel to staff."""

import json

import pytest

from reports_app.models import Report
from tests.app_api import call
from tests.helpers import status_of
from tests.people import make_person
from users_app.models import BlacklistEntry
from users_app.services import app_user_delete

REPORTS = "/v1/app/reports"


@pytest.fixture
def message_id(send, valid_fields):
    response = send({**valid_fields, "message": "Buy cheap pills", "url": "https://spam.example/pills"})
    return int(response.json()["response"]["id"])


def test_it_reports_a_message_and_keeps_a_copy(client, bob, channel, message_id):
    response = call(client, "POST", REPORTS, bob, {"message": message_id, "reason": "spam", "comment": "again"})
    assert response.status_code == 201
    body = response.json()
    assert (body["message"], body["channel"], body["reason"], body["blocked"]) == (message_id, channel.token, "spam", False)
    report = Report.objects.get()
    assert (report.message_text, report.message_url) == ("Buy cheap pills", "https://spam.example/pills")
    assert (report.channel_name, report.channel_token, report.reporter_token) == (channel.name, channel.token, bob.token)
    assert report.status == Report.OPEN


def test_the_answer_does_not_name_the_reporter(client, bob, message_id):
    body = call(client, "POST", REPORTS, bob, {"message": message_id, "reason": "abuse"}).json()
    assert bob.token not in json.dumps(body)


def test_it_reports_a_channel_by_its_token(client, charlie, channel):
    response = call(client, "POST", REPORTS, charlie, {"channel": channel.token, "reason": "other"})
    assert response.status_code == 201
    report = Report.objects.get()
    assert (report.message_ref, report.channel_id, report.message_text) == (None, channel.pk, "")


def test_block_true_also_blacklists_the_channel(client, bob, channel, message_id, send, valid_fields):
    call(client, "POST", REPORTS, bob, {"message": message_id, "reason": "spam", "block": True})
    assert BlacklistEntry.objects.filter(user=bob.user, channel=channel).exists()
    assert send(valid_fields).json()["response"]["status"] == 4024


def test_another_users_message_is_not_found(client, charlie, message_id):
    response = call(client, "POST", REPORTS, charlie, {"message": message_id, "reason": "spam"})
    assert (response.status_code, status_of(response)) == (404, 4004)
    assert not Report.objects.exists()


def test_an_unknown_message_is_not_found(client, bob, message_id):
    response = call(client, "POST", REPORTS, bob, {"message": message_id + 1000, "reason": "spam"})
    assert (response.status_code, status_of(response)) == (404, 4004)


def test_an_unknown_channel_is_not_found(client, bob):
    response = call(client, "POST", REPORTS, bob, {"channel": "c_" + "0" * 40, "reason": "spam"})
    assert (response.status_code, status_of(response)) == (404, 4004)


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "fraud"},
        {"reason": "spam", "comment": "x" * 501},
        {"reason": "spam", "comment": 12},
        {"reason": "spam", "block": "yes"},
        {},
    ],
)
def test_it_refuses_a_bad_reason_comment_or_flag(client, bob, message_id, body):
    response = call(client, "POST", REPORTS, bob, {"message": message_id, **body})
    assert (response.status_code, status_of(response)) == (400, 4005)
    assert not Report.objects.exists()


def test_it_takes_a_500_character_comment(client, bob, message_id):
    response = call(client, "POST", REPORTS, bob, {"message": message_id, "reason": "other", "comment": "y" * 500})
    assert response.status_code == 201


def test_it_wants_exactly_one_of_message_and_channel(client, bob, channel, message_id):
    both = call(client, "POST", REPORTS, bob, {"message": message_id, "channel": channel.token, "reason": "spam"})
    neither = call(client, "POST", REPORTS, bob, {"reason": "spam"})
    assert status_of(both) == status_of(neither) == 4005


def test_it_needs_the_access_token(client, message_id):
    response = call(client, "POST", REPORTS, None, {"message": message_id, "reason": "spam"})
    assert (response.status_code, status_of(response)) == (401, 4001)


def test_reports_are_throttled_per_account(client, bob, channel, settings):
    settings.APP_REPORT_RATE = "3/h"
    answers = [
        call(client, "POST", REPORTS, bob, {"channel": channel.token, "reason": "spam"}, REMOTE_ADDR=f"10.0.0.{i}")
        for i in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert status_of(answers[-1]) == 4029 and answers[-1]["Retry-After"]
    assert Report.objects.count() == 3


def test_reports_are_throttled_per_address(client, channel, settings):
    settings.APP_REPORT_RATE = "3/h"
    people = [make_person() for _ in range(4)]
    answers = [call(client, "POST", REPORTS, p, {"channel": channel.token, "reason": "spam"}) for p in people]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]


def test_the_report_outlives_the_senders_account(client, alice, bob, channel, message_id):
    call(client, "POST", REPORTS, bob, {"message": message_id, "reason": "abuse"})
    app_user_delete(user=alice.user)
    report = Report.objects.get()
    assert report.channel_id is None and report.message_id is None
    assert (report.message_text, report.channel_token, report.sender_token) == (
        "Buy cheap pills", channel.token, alice.token)


def test_the_report_outlives_the_reporters_account(client, bob, message_id):
    call(client, "POST", REPORTS, bob, {"message": message_id, "reason": "abuse"})
    response = call(client, "DELETE", "/v1/app/me", bob)
    assert response.status_code == 204
    report = Report.objects.get()
    assert report.reporter_id is None
    assert (report.reporter_token, report.message_text) == (bob.token, "Buy cheap pills")
