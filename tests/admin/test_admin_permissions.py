import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from channels_app.models import Channel
from messaging.models import Message
from tests.admin_support import changelist_url, login_client, run_action
from tests.helpers import fill_today

CHANNELS = changelist_url("channels_app", "channel")
USERS = changelist_url("users_app", "appuser")
MESSAGES = changelist_url("messaging", "message")


def status(response):
    return response.json()["response"]["status"]


def test_the_moderators_group_can_view_and_change_but_not_delete(db):
    codenames = set(Group.objects.get(name="Moderators").permissions.values_list("codename", flat=True))
    assert {"view_channel", "change_channel", "view_appuser", "change_appuser", "view_message"} <= codenames
    assert not {c for c in codenames if c.startswith(("delete_", "add_"))}


def test_a_moderator_can_verify_a_channel(moderator_client, channel, send, valid_fields, settings):
    fill_today(channel, settings.CHANNEL_DAILY_LIMIT)
    run_action(moderator_client, CHANNELS, "verify", [channel])
    assert send(valid_fields).status_code == 200


def test_a_moderator_can_block_a_user(moderator_client, bob, send, valid_fields):
    run_action(moderator_client, USERS, "block", [bob.user])
    assert status(send(valid_fields)) == 4023


def test_a_moderator_is_refused_the_delete_page_of_a_channel(moderator_client, channel):
    assert moderator_client.get(f"{CHANNELS}{channel.pk}/delete/").status_code == 403
    assert moderator_client.post(f"{CHANNELS}{channel.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_a_moderator_is_refused_the_delete_page_of_an_app_user(moderator_client, bob):
    assert moderator_client.get(f"{USERS}{bob.user.pk}/delete/").status_code == 403


def test_a_moderator_is_refused_the_delete_page_of_a_message(moderator_client, send, valid_fields):
    message_id = send(valid_fields).json()["response"]["id"]
    assert moderator_client.get(f"{MESSAGES}{message_id}/delete/").status_code == 403


@pytest.mark.parametrize("url", [CHANNELS, USERS])
def test_a_moderator_gets_no_delete_action(moderator_client, channel, url):
    response = moderator_client.get(url)
    assert response.status_code == 200
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "block" in actions


def test_a_moderator_cannot_run_the_delete_action(moderator_client, channel):
    run_action(moderator_client, CHANNELS, "delete_selected", [channel])
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_a_moderator_can_read_the_message_log(moderator_client, send, valid_fields):
    send(valid_fields)
    assert moderator_client.get(MESSAGES).status_code == 200


def test_staff_without_a_group_cannot_open_the_channel_list(db, channel):
    user = User.objects.create_user("intern", password="a long intern password", is_staff=True)
    assert login_client(user).get(CHANNELS).status_code == 403


def test_a_superuser_can_delete_a_channel_with_messages(admin_client, channel, send, valid_fields):
    send(valid_fields)
    response = admin_client.post(f"{CHANNELS}{channel.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Channel.objects.filter(pk=channel.pk).exists()
    assert not Message.objects.exists()


def test_an_anonymous_visitor_is_redirected_from_the_admin_index(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_createsuperuser_noinput_uses_the_environment(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long root password")
    call_command("createsuperuser", interactive=False, verbosity=0)
    user = authenticate(username="root", password="a long root password")
    assert user is not None and user.is_superuser and user.is_staff


def test_the_admin_login_page_renders_with_debug_off(client, db, settings):
    settings.DEBUG = False
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "/static/admin/css/base.css" in response.content.decode()


def test_a_moderator_gets_no_delete_button_on_a_change_page(moderator_client, channel):
    body = moderator_client.get(f"{CHANNELS}{channel.pk}/change/").content.decode()
    assert 'name="action" value="verify"' in body
    assert f"{CHANNELS}{channel.pk}/delete/" not in body
