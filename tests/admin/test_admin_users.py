from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app.services import channel_create
from users_app.models import AppUser, BlacklistEntry, Device
from users_app.services import app_user_set_blocked, blacklist_add
from tests.admin_support import changelist_url, run_action
from tests.people import make_person

URL = changelist_url("users_app", "appuser")
BLACKLIST_URL = changelist_url("users_app", "blacklistentry")


def status(response):
    return response.json()["response"]["status"]


def listed(response):
    return set(response.context["cl"].result_list)


def test_it_redirects_an_anonymous_visitor_to_the_login_page(client, alice):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_search_finds_a_user_by_user_token(admin_client, alice, bob):
    response = admin_client.get(URL, {"q": bob.token})
    assert listed(response) == {bob.user}


def test_blocked_filter_lists_only_blocked_users(admin_client, alice, bob):
    app_user_set_blocked(user=bob.user, blocked=True)
    response = admin_client.get(URL, {"is_blocked__exact": "1"})
    assert listed(response) == {bob.user}


def test_active_devices_filter_separates_users_without_an_active_device(admin_client, alice, bob):
    Device.objects.filter(user=bob.user).update(is_active=False, deactivation_reason="Unregistered")
    assert listed(admin_client.get(URL, {"active_devices": "yes"})) == {alice.user}
    assert listed(admin_client.get(URL, {"active_devices": "no"})) == {bob.user}


def test_changelist_counts_devices_channels_and_messages(admin_client, alice, bob, channel, send, valid_fields):
    Device.objects.create(user=alice.user, platform=Device.IOS, push_token="ab" * 32)
    channel_create(owner=alice.user, name="second")
    send(valid_fields)
    send(valid_fields)
    response = admin_client.get(URL)
    rows = {user.pk: user for user in response.context["cl"].result_list}
    assert (rows[alice.user.pk].device_count, rows[alice.user.pk].channel_count, rows[alice.user.pk].message_count) == (2, 2, 0)
    assert (rows[bob.user.pk].device_count, rows[bob.user.pk].channel_count, rows[bob.user.pk].message_count) == (1, 0, 2)


def test_changelist_queries_do_not_grow_with_rows(admin_client, alice):
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(URL)
    for _ in range(4):
        person = make_person()
        channel_create(owner=person.user, name="x")
    with CaptureQueriesContext(connection) as five_rows:
        admin_client.get(URL)
    assert len(five_rows) == len(one_row)


def test_block_action_makes_the_next_send_to_the_user_answer_4023(admin_client, bob, send, valid_fields):
    response = run_action(admin_client, URL, "block", [bob.user])
    assert response.status_code == 302
    assert status(send(valid_fields)) == 4023


def test_blocking_a_channel_owner_makes_the_next_send_of_their_channel_answer_4023(admin_client, alice, send, valid_fields):
    run_action(admin_client, URL, "block", [alice.user])
    assert status(send(valid_fields)) == 4023


def test_unblock_action_lets_the_next_send_through(admin_client, bob, send, valid_fields):
    run_action(admin_client, URL, "block", [bob.user])
    run_action(admin_client, URL, "unblock", [bob.user])
    assert send(valid_fields).status_code == 200


def test_block_and_unblock_are_recorded_in_the_admin_log(admin_client, admin_user, bob):
    run_action(admin_client, URL, "block", [bob.user])
    run_action(admin_client, URL, "unblock", [bob.user])
    entries = LogEntry.objects.filter(object_id=str(bob.user.pk), content_type__model="appuser").order_by("id")
    assert [(e.user, e.action_flag, e.change_message) for e in entries] == [
        (admin_user, CHANGE, "Blocked"),
        (admin_user, CHANGE, "Unblocked"),
    ]


def test_change_page_shows_devices_with_platform_active_flag_and_deactivation_reason(admin_client, charlie):
    Device.objects.filter(user=charlie.user).update(
        is_active=False, deactivated_at=timezone.now(), deactivation_reason="APNs 410 Unregistered"
    )
    response = admin_client.get(f"{URL}{charlie.user.pk}/change/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "iOS" in body
    assert "APNs 410 Unregistered" in body
    assert 'alt="False"' in body  # the active flag, as the admin's boolean icon


def test_change_page_shows_no_credentials(admin_client, charlie):
    user = AppUser.objects.get(pk=charlie.user.pk)
    body = admin_client.get(f"{URL}{user.pk}/change/").content.decode()
    assert user.access_tokens.get().digest not in body
    assert charlie.access_token not in body
    assert Device.objects.get(user=user).push_token not in body


def test_staff_cannot_add_an_app_user_in_the_admin(admin_client):
    assert admin_client.get(URL + "add/").status_code == 403


def test_blacklist_entries_are_listed(admin_client, bob, channel):
    blacklist_add(user=bob.user, channel=channel)
    response = admin_client.get(BLACKLIST_URL, {"q": bob.token})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


def test_blacklist_entries_are_read_only(admin_client, bob, channel):
    entry = blacklist_add(user=bob.user, channel=channel)
    assert admin_client.get(BLACKLIST_URL + "add/").status_code == 403
    response = admin_client.post(f"{BLACKLIST_URL}{entry.pk}/change/", {"user": bob.user.pk, "channel": channel.pk})
    assert response.status_code == 403
    assert BlacklistEntry.objects.filter(pk=entry.pk).exists()



def test_the_change_page_offers_block_and_unblock_buttons(admin_client, bob):
    body = admin_client.get(f"{URL}{bob.user.pk}/change/").content.decode()
    assert 'name="action" value="block"' in body
    assert 'name="action" value="unblock"' in body


def test_change_page_shows_a_browsers_label_but_not_its_subscription(admin_client, charlie):
    device = Device.objects.create(user=charlie.user, platform=Device.WEB, label="Work laptop",
                                   push_token="https://fcm.googleapis.com/fcm/send/secret-endpoint",
                                   web_p256dh="BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                                   web_auth="tBHItJI5svbpez7KI4CCXg")
    body = admin_client.get(f"{URL}{charlie.user.pk}/change/").content.decode()
    assert "Work laptop" in body
    for secret in (device.push_token, device.web_p256dh, device.web_auth):
        assert secret not in body
