"""The admin's abuse reports: the queue, the actions, the counts on channels and the statistics page."""

import pytest

from channels_app.models import Channel
from reports_app.models import Report
from reports_app.services import report_create
from tests.admin_support import changelist_url, run_action
from tests.people import make_person

REPORTS = changelist_url("reports_app", "report")
CHANNELS = changelist_url("channels_app", "channel")


@pytest.fixture
def reports(bob, channel, send, valid_fields):
    message_id = int(send({**valid_fields, "message": "Win a prize"}).json()["response"]["id"])
    spam = report_create(reporter=bob.user, reason="spam", message_id=message_id, comment="scam")
    other = make_person()
    abuse = report_create(reporter=other.user, reason="abuse", channel_token=channel.token)
    return spam, abuse


def test_a_moderator_sees_the_queue_with_the_reporter(moderator_client, reports, bob):
    response = moderator_client.get(REPORTS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Win a prize" in page and bob.token in page


def test_the_queue_filters_by_status_and_reason(moderator_client, reports):
    spam, abuse = reports
    report_resolve_url = f"{REPORTS}?reason=spam"
    assert list(moderator_client.get(report_resolve_url).context["cl"].result_list) == [spam]
    Report.objects.filter(pk=abuse.pk).update(status=Report.RESOLVED)
    assert list(moderator_client.get(f"{REPORTS}?status=open").context["cl"].result_list) == [spam]
    assert list(moderator_client.get(f"{REPORTS}?status=resolved").context["cl"].result_list) == [abuse]


def test_the_queue_searches_by_channel_token(moderator_client, reports, channel):
    other_channel = Channel.objects.create(owner=make_person().user, name="Other", secret="s" * 64)
    report_create(reporter=make_person().user, reason="other", channel_token=other_channel.token)
    found = moderator_client.get(REPORTS, {"q": channel.token}).context["cl"].result_list
    assert {r.channel_token for r in found} == {channel.token} and len(found) == 2


def test_resolve_closes_the_chosen_reports(moderator_client, moderator, reports):
    spam, abuse = reports
    run_action(moderator_client, REPORTS, "resolve", [spam])
    spam.refresh_from_db()
    abuse.refresh_from_db()
    assert (spam.status, spam.resolved_by, abuse.status) == (Report.RESOLVED, moderator, Report.OPEN)


def test_block_channel_and_resolve_its_reports(moderator_client, reports, channel, send, valid_fields):
    spam, abuse = reports
    run_action(moderator_client, REPORTS, "block_channel_and_resolve", [spam])
    channel.refresh_from_db()
    assert channel.is_blocked
    assert set(Report.objects.values_list("status", flat=True)) == {Report.RESOLVED}
    assert send(valid_fields).json()["response"]["status"] == 4023


def test_the_report_page_has_both_actions_as_buttons(moderator_client, reports):
    spam, _ = reports
    page = moderator_client.get(f"{REPORTS}{spam.pk}/change/").content.decode()
    assert "Block channel and resolve its reports" in page and "Resolve" in page and "scam" in page


def test_the_channel_list_and_page_show_the_report_count(moderator_client, reports, channel):
    listed = moderator_client.get(CHANNELS).context["cl"].result_list
    assert [c.report_count for c in listed if c.pk == channel.pk] == [2]
    page = moderator_client.get(f"{CHANNELS}{channel.pk}/change/").content.decode()
    assert "reports" in page and "2 (2 open)" in page


def test_the_statistics_page_lists_the_most_reported_channels(moderator_client, reports, channel):
    response = moderator_client.get("/admin/stats/")
    assert response.status_code == 200
    rows = response.context["most_reported"]
    assert rows[0]["channel_token"] == channel.token and rows[0]["reports"] == 2
    assert "kp-most-reported" in response.content.decode()


def test_a_moderator_cannot_delete_a_report(moderator_client, reports):
    spam, _ = reports
    assert moderator_client.get(f"{REPORTS}{spam.pk}/delete/").status_code == 403


def test_the_moderators_group_has_the_report_permissions(db):
    from django.contrib.auth.models import Group

    codenames = set(Group.objects.get(name="Moderators").permissions.values_list("codename", flat=True))
    assert {"view_report", "change_report"} <= codenames
