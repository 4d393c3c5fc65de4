"""The staff admin in a real Chromium: the message list's text at 1,280 px, the statistics charts at 360 px."""

import datetime

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.utils import timezone

from channels_app.services import channel_create
from messaging.models import Message
from tests.people import make_person

PASSWORD = "a long staff password for the browser"
LONG_TEXT = "Motion detected at the front door: the camera recorded a 30 second clip, available in the app"


@pytest.fixture
def staff_page(new_context, transactional_db):
    """new_context-style: staff_page(width, height) -> a page logged in to the admin as a superuser."""
    # The site's own hasher: the tests' fast MD5 hasher (tests/settings.py) is not one the site accepts.
    hasher = PBKDF2PasswordHasher()
    staff = User.objects.create_superuser("staff", "staff@example.com", None)
    staff.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    staff.save(update_fields=["password"])

    def _page(width, height):
        page = new_context(viewport={"width": width, "height": height}).new_page()
        page.goto("/admin/login/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/admin/"), (page.url, page.content()[:3000])
        return page

    return _page


@pytest.fixture
def messages():
    alice, bob = make_person(), make_person()
    channel = channel_create(owner=alice.user, name="Front door camera with a long name")
    for important in (None, True, False):
        Message.objects.create(recipient=bob.user, channel=channel, text=LONG_TEXT, important=important)


def test_the_message_lists_text_column_is_readable_at_1280_px(staff_page, messages):
    page = staff_page(1280, 800)
    page.goto("/admin/messaging/message/")
    box = page.evaluate("""() => {
        const results = document.querySelector('#changelist .results').getBoundingClientRect();
        const text = document.querySelector('#result_list td.field-excerpt').getBoundingClientRect();
        return {results_right: results.right, table: document.querySelector('#result_list').scrollWidth,
                results_width: results.width, left: text.left, right: text.right, width: text.width};
    }""")
    assert box["width"] >= 180, box  # about 25 characters a line, not one word
    assert box["right"] <= box["results_right"], box  # on screen, not behind a horizontal scroll
    assert box["table"] <= box["results_width"] + 1, box  # no column is cut off either
    assert page.locator("#result_list td.field-importance").all_inner_texts() == ["silent", "important", "normal"]


@pytest.fixture
def daily_messages():
    bob = make_person()
    channel = channel_create(owner=make_person().user, name="Home Assistant alarms and notices")
    for day in range(14):
        for _ in range(day % 4 + 1):
            message = Message.objects.create(recipient=bob.user, channel=channel, text="x")
            Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - datetime.timedelta(days=day))


def test_the_statistics_charts_are_readable_at_360_px(staff_page, daily_messages):
    page = staff_page(360, 740)
    page.goto("/admin/stats/")
    charts = page.evaluate("""() => [...document.querySelectorAll('svg.kp-chart')]
        .filter(svg => svg.getBoundingClientRect().width > 0)
        .map(svg => ({right: svg.getBoundingClientRect().right,
                      texts: [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect())
                                .map(r => ({height: r.height, top: Math.round(r.top), left: r.left, right: r.right}))}))""")
    assert len(charts) == 4, charts
    for chart in charts:
        assert chart["right"] <= 360, chart
        assert chart["texts"], chart
        assert min(text["height"] for text in chart["texts"]) >= 10, chart  # 11 px text stays about 11 px
    bottom = max(text["top"] for text in charts[0]["texts"])
    labels = sorted((text for text in charts[0]["texts"] if text["top"] == bottom), key=lambda text: text["left"])
    assert len(labels) >= 4, labels
    assert all(a["right"] < b["left"] for a, b in zip(labels, labels[1:])), labels  # day labels do not overlap
