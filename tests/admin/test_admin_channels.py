import io

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from channels_app.models import Channel, ChannelDailyCount
from channels_app.quota import utc_today
from channels_app.services import channel_create, channel_set_verified
from tests.admin_support import changelist_url, run_action
from tests.helpers import fill_today
from tests.people import make_person

URL = changelist_url("channels_app", "channel")


def status(response):
    return response.json()["response"]["status"]


def test_it_redirects_an_anonymous_visitor_to_the_login_page(client, channel):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_search_finds_a_channel_by_its_owners_user_token(admin_client, channel, alice, bob):
    other = channel_create(owner=bob.user, name="Bob's bells")
    response = admin_client.get(URL, {"q": alice.token})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [channel]
    assert other not in response.context["cl"].result_list


def test_search_finds_a_channel_by_its_channel_token(admin_client, channel, bob):
    channel_create(owner=bob.user, name="Bob's bells")
    response = admin_client.get(URL, {"q": channel.token})
    assert list(response.context["cl"].result_list) == [channel]


def test_search_finds_a_channel_by_name(admin_client, channel, bob):
    channel_create(owner=bob.user, name="Bob's bells")
    response = admin_client.get(URL, {"q": "alarms"})
    assert list(response.context["cl"].result_list) == [channel]


def test_changelist_shows_sent_today_against_the_limit(admin_client, channel, settings):
    ChannelDailyCount.objects.create(channel=channel, day=utc_today(timezone.now()), count=42)
    response = admin_client.get(URL)
    assert f"42 / {settings.CHANNEL_DAILY_LIMIT}" in response.content.decode()


def test_changelist_shows_no_limit_for_a_verified_channel(admin_client, channel):
    channel_set_verified(channel=channel, verified=True)
    response = admin_client.get(URL)
    assert "no limit" in response.content.decode()


def test_changelist_shows_the_logo_thumbnail(admin_client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    channel_create(owner=alice.user, name="With logo", logo=SimpleUploadedFile("logo.png", buffer.getvalue()))
    response = admin_client.get(URL)
    channel = Channel.objects.get(name="With logo")
    assert channel.logo.url.startswith("/media/logos/")
    assert f'<img src="{channel.logo.url}"' in response.content.decode()


def test_changelist_queries_do_not_grow_with_rows(admin_client, channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(URL)
    for i in range(4):
        channel_create(owner=make_person().user, name=f"more {i}")
    with CaptureQueriesContext(connection) as five_rows:
        admin_client.get(URL)
    assert len(five_rows) == len(one_row)


def test_verify_action_lifts_the_daily_limit_for_the_next_send(admin_client, channel, send, valid_fields, settings):
    fill_today(channel, settings.CHANNEL_DAILY_LIMIT)
    assert status(send(valid_fields)) == 4029
    response = run_action(admin_client, URL, "verify", [channel])
    assert response.status_code == 302
    assert send(valid_fields).status_code == 200


def test_unverify_action_restores_the_daily_limit(admin_client, channel, send, valid_fields, settings):
    channel_set_verified(channel=channel, verified=True)
    fill_today(channel, settings.CHANNEL_DAILY_LIMIT)
    assert send(valid_fields).status_code == 200
    run_action(admin_client, URL, "unverify", [channel])
    assert status(send(valid_fields)) == 4029


def test_block_action_makes_the_next_send_answer_4023(admin_client, channel, send, valid_fields):
    run_action(admin_client, URL, "block", [channel])
    assert status(send(valid_fields)) == 4023


def test_unblock_action_lets_the_next_send_through(admin_client, channel, send, valid_fields):
    run_action(admin_client, URL, "block", [channel])
    run_action(admin_client, URL, "unblock", [channel])
    assert send(valid_fields).status_code == 200


def test_rotate_secret_action_makes_the_old_secret_answer_4003(admin_client, channel, send, valid_fields):
    run_action(admin_client, URL, "rotate_secret", [channel])
    assert status(send(valid_fields)) == 4003


def test_rotate_secret_action_gives_a_working_new_secret(admin_client, channel, send, valid_fields):
    run_action(admin_client, URL, "rotate_secret", [channel])
    new_secret = Channel.objects.get(pk=channel.pk).secret
    assert new_secret != valid_fields["secret"]
    assert send({**valid_fields, "secret": new_secret}).status_code == 200


def test_rotate_secret_action_does_not_show_the_new_secret(admin_client, channel):
    response = run_action(admin_client, URL, "rotate_secret", [channel])
    page = admin_client.get(response["Location"]).content.decode()
    assert "Rotated the Channel Secret Key: 1 channel." in page
    assert Channel.objects.get(pk=channel.pk).secret not in page


@pytest.mark.parametrize(
    "action, message",
    [
        ("verify", "Verified"),
        ("unverify", "Unverified"),
        ("block", "Blocked"),
        ("unblock", "Unblocked"),
        ("rotate_secret", "Rotated the Channel Secret Key"),
    ],
)
def test_each_action_is_recorded_in_the_admin_log(admin_client, admin_user, channel, action, message):
    run_action(admin_client, URL, action, [channel])
    entry = LogEntry.objects.get(object_id=str(channel.pk), content_type__model="channel")
    assert (entry.user, entry.action_flag, entry.change_message) == (admin_user, CHANGE, message)


def test_an_action_changes_only_the_selected_channels(admin_client, channel, bob):
    other = channel_create(owner=bob.user, name="Bob's bells")
    run_action(admin_client, URL, "block", [channel])
    assert Channel.objects.get(pk=other.pk).is_blocked is False


def test_staff_cannot_add_a_channel_in_the_admin(admin_client, channel):
    assert admin_client.get(URL + "add/").status_code == 403


def test_change_form_has_no_editable_fields(admin_client, channel):
    response = admin_client.get(f"{URL}{channel.pk}/change/")
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == []


def channel_pages(channel):
    return [URL, f"{URL}?q={channel.token}", f"{URL}{channel.pk}/change/", f"{URL}{channel.pk}/history/", f"{URL}{channel.pk}/delete/"]


def test_the_secret_is_absent_from_every_admin_page_of_a_channel(admin_client, channel):
    for action in ("verify", "block", "rotate_secret"):  # fills the history too
        run_action(admin_client, URL, action, [channel])
    channel = Channel.objects.get(pk=channel.pk)
    for page in channel_pages(channel):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert channel.token in body, page  # the page is about this channel
        for value in (channel.secret, channel.secret_encrypted, channel.secret_digest):
            assert value not in body, page


def test_the_change_page_offers_the_actions_as_buttons(admin_client, channel):
    body = admin_client.get(f"{URL}{channel.pk}/change/").content.decode()
    for action in ("verify", "unverify", "block", "unblock", "rotate_secret"):
        assert f'name="action" value="{action}"' in body
    assert 'value="delete_selected"' not in body


def test_a_button_on_the_change_page_blocks_and_returns_to_that_page(admin_client, channel, send, valid_fields):
    response = admin_client.post(URL, {"action": "block", "_selected_action": channel.pk, "_return_to_object": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"{URL}{channel.pk}/change/"
    assert status(send(valid_fields)) == 4023
