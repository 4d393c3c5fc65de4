import datetime
import re
import uuid

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from channels_app.models import ChannelDailyCount
from channels_app.quota import utc_today
from channels_app.services import channel_create, channel_set_verified
from messaging.models import Delivery, Message
from users_app.models import Device
from tests.admin_support import login_client

URL = "/admin/stats/"


def section(body, element_id):
    """The HTML of one module of the page, whitespace between tags removed."""
    start = body.index(f'id="{element_id}"')
    end = body.find('<div class="module"', start)
    return re.sub(r">\s+<", "><", body[start : end if end != -1 else len(body)])


def add_message(channel, recipient, *, days_ago=0, states=()):
    message = Message.objects.create(recipient=recipient.user, channel=channel, text="hi")
    if days_ago:
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - datetime.timedelta(days=days_ago))
    for state in states:
        platform = recipient.user.devices.first().platform
        device = Device.objects.create(user=recipient.user, platform=platform, push_token=f"t-{uuid.uuid4()}")
        Delivery.objects.create(message=message, device=device, state=state)
    return message


@pytest.fixture
def page(admin_client):
    def _page():
        response = admin_client.get(URL)
        assert response.status_code == 200
        return response.content.decode()

    return _page


def test_it_redirects_an_anonymous_visitor_to_the_login_page(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/stats/")


def test_staff_without_permission_to_view_messages_are_refused(db):
    user = User.objects.create_user("intern", password="a long intern password", is_staff=True)
    assert login_client(user).get(URL).status_code == 403


def test_a_moderator_can_open_it(moderator_client):
    assert moderator_client.get(URL).status_code == 200


def test_the_admin_index_links_to_it(admin_client):
    assert 'href="/admin/stats/"' in admin_client.get("/admin/").content.decode()


def test_it_renders_with_data_as_inline_svg(page, channel, bob):
    add_message(channel, bob, states=[Delivery.ACCEPTED])
    body = page()
    assert body.count("<svg") >= 4 + 1  # four charts (+ the admin's own icon sprite)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="kp-chart"' in body
    content = body[body.index('<div id="content-main" class="kp-stats">') :]
    assert "<script" not in content  # drawn on the server: no JavaScript, no CDN


def test_it_counts_messages_accepted_today_and_over_14_days(page, channel, bob):
    add_message(channel, bob)
    add_message(channel, bob)
    add_message(channel, bob, days_ago=3)
    add_message(channel, bob, days_ago=20)
    body = page()
    assert '<strong id="kp-today">2</strong>' in body
    assert '<strong id="kp-period">3</strong>' in body


def test_it_counts_deliveries_by_state_and_platform(page, channel, bob, charlie):
    add_message(channel, bob, states=[Delivery.ACCEPTED, Delivery.ACCEPTED, Delivery.INVALID_TOKEN])
    add_message(channel, charlie, states=[Delivery.EXPIRED])
    html = section(page(), "kp-deliveries")
    # columns: queued, sending, accepted, invalid token, rejected, expired, cancelled, total
    def row(platform, *counts):
        return f"<tr><td>{platform}</td>" + "".join(f'<td class="num">{n}</td>' for n in counts) + "</tr>"

    assert row("Android", 0, 0, 2, 1, 0, 0, 0, 3) in html
    assert row("iOS", 0, 0, 0, 0, 0, 1, 0, 1) in html


def test_it_shows_the_dead_token_rate_per_platform(page, channel, bob):
    add_message(channel, bob, states=[Delivery.ACCEPTED, Delivery.ACCEPTED, Delivery.ACCEPTED, Delivery.INVALID_TOKEN, Delivery.QUEUED])
    html = section(page(), "kp-dead-tokens")
    assert '<tr><td>Android</td><td class="num">1</td><td class="num">4</td><td class="num">25.0%</td></tr>' in html


def test_it_lists_top_channels_by_volume_most_first(page, channel, alice, bob):
    busy = channel_create(owner=alice.user, name="Busy bells")
    for _ in range(3):
        add_message(busy, bob)
    add_message(channel, bob)
    html = section(page(), "kp-top-channels")
    assert html.index("Busy bells") < html.index("Alice&#x27;s alarms")


def test_it_lists_unverified_channels_close_to_their_limit(page, channel, alice, settings):
    settings.CHANNEL_DAILY_LIMIT = 100
    quiet = channel_create(owner=alice.user, name="Quiet")
    trusted = channel_create(owner=alice.user, name="Trusted")
    channel_set_verified(channel=trusted, verified=True)
    today = utc_today(timezone.now())
    ChannelDailyCount.objects.create(channel=channel, day=today, count=85)
    ChannelDailyCount.objects.create(channel=quiet, day=today, count=10)
    ChannelDailyCount.objects.create(channel=trusted, day=today, count=95)
    html = section(page(), "kp-near-limit")
    assert channel.token in html and "85 / 100" in html
    assert quiet.token not in html
    assert trusted.token not in html


def test_it_escapes_channel_names_in_the_charts(page, alice, bob):
    evil = channel_create(owner=alice.user, name="<script>alert(1)</script>")
    add_message(evil, bob)
    body = page()
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)" in section(body, "kp-top-channels")


def test_it_renders_with_no_data(page):
    assert "No messages in this period." in page()


def test_active_devices_count_only_devices_that_receive_pushes(page, alice, bob):
    from users_app.services import app_user_create

    app_user_create(platform="web")  # a browser with notifications off: no pushes, like had_devices says
    Device.objects.filter(pk=bob.user.devices.get().pk).update(is_active=False)
    assert re.search(r"<strong>1</strong>active devices", page())  # alice's phone only
