"""Issue 24 in the browser: priorities on the inbox, the Acknowledge button, and the notification's Acknowledge action."""

import json
import re

from playwright.sync_api import expect

from messaging.models import Message
from channels_app.services import channel_create
from tests.web.conftest import api
from tests.web.helpers import message, tokens, wait_for_service_worker, wait_until_live
from users_app.models import AppUser
from tests.web.test_inbox_page import inbox_with_channel, send_to
from tests.web.test_live_stream import other_device
from tests.web.test_notifications import PushDevTools, app_context, payload

EMERGENCY = {"priority": 2, "retry": 30, "expire": 600}


def acknowledged(message_id):
    return Message.objects.get(pk=message_id).acknowledged_at is not None


def test_an_emergency_shows_an_acknowledge_button_that_acknowledges_it(page, site):
    stored, channel = inbox_with_channel(page)
    message_id = send_to(site, stored, channel, "Server room on fire", **EMERGENCY)
    item = message(page, "Server room on fire")
    expect(item.get_by_text("Emergency")).to_be_visible()
    button = item.get_by_role("button", name="Acknowledge")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_have_count(0)
    expect(item).not_to_have_class("unread")
    assert acknowledged(message_id)
    page.reload()
    expect(message(page, "Server room on fire")).to_be_visible()
    expect(message(page, "Server room on fire").get_by_role("button", name="Acknowledge")).to_have_count(0)


def test_other_priorities_have_no_acknowledge_button_and_quiet_is_marked(page, site):
    stored, channel = inbox_with_channel(page)
    send_to(site, stored, channel, "Just so you know", priority=-1)
    send_to(site, stored, channel, "Pay attention", priority=1)
    expect(message(page, "Just so you know").get_by_text("Quiet")).to_be_visible()
    expect(message(page, "Pay attention").get_by_text("Important")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)


def shown_with_actions(page):
    return page.evaluate(
        """async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({
            tag: n.tag, actions: n.actions.map((a) => [a.action, a.title]), requireInteraction: n.requireInteraction,
            renotify: n.renotify, silent: n.silent}))"""
    )


def test_an_emergency_notification_has_an_acknowledge_action_and_a_quiet_one_is_silent(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()
    devtools.deliver(payload(id=61, priority=2))
    devtools.deliver(payload(id=62, priority=-1, important=None))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    for _ in range(100):
        shown = sorted(shown_with_actions(viewer), key=lambda n: n["tag"])
        if len(shown) == 2:
            break
        viewer.wait_for_timeout(100)
    assert shown == [
        {"tag": "61", "actions": [["ack", "Acknowledge"]], "requireInteraction": True, "renotify": True,
         "silent": False},
        {"tag": "62", "actions": [], "requireInteraction": False, "renotify": False, "silent": True},
    ]


def registered_with_channel(page):
    """inbox_with_channel for a page app_context already registered."""
    stored = tokens(page)
    channel = channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name="Garage")
    wait_until_live(page)
    return stored, channel


def test_the_notifications_acknowledge_action_acknowledges_through_the_open_page(new_context, site):
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)
    message_id = send_to(site, stored, channel, "Pager duty", **EMERGENCY)
    expect(message(page, "Pager duty")).to_be_visible()
    wait_for_service_worker(page)
    [worker] = context.service_workers
    worker.evaluate(f"acknowledgeFromNotification({message_id})")  # what the "ack" action's click runs
    expect(message(page, "Pager duty").get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert acknowledged(message_id)


def test_the_acknowledge_action_without_an_open_page_opens_one_that_acknowledges(new_context, site):
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)
    message_id = send_to(site, stored, channel, "Nobody looking", **EMERGENCY)
    page.goto(f"{site.url}/#/inbox/{message_id}/ack")  # the window the action opens
    expect(message(page, "Nobody looking")).to_be_visible()
    expect(message(page, "Nobody looking").get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert acknowledged(message_id)


def test_a_copy_read_before_the_acknowledgement_does_not_bring_the_button_back(new_context, site):
    """The page acknowledges a message it has not shown yet (the notification's action opened it at once); the
    copy the live updates read before the acknowledgement arrives after it, and the message shows acknowledged."""
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)

    def without_stream(route):  # a server without the stream: the page polls, and the test can hold a poll
        config = route.fetch().json()
        route.fulfill(json={**config, "stream_url": None})

    held = []

    def hold_the_emergency(route):
        answer = route.fetch()
        if "after=" in route.request.url and any(m["priority"] == 2 for m in answer.json()["messages"]):
            held.append((route, answer))  # read now, before the acknowledgement; answered after it
        else:
            route.fulfill(response=answer)

    page.route("**/v1/app/config", without_stream)
    page.reload()
    expect(page.locator("#live-state")).to_have_attribute("data-mode", "polling")
    page.route("**/v1/app/messages?*", hold_the_emergency)
    message_id = send_to(site, stored, channel, "Nobody looking", **EMERGENCY)
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    [(poll, stale)] = held
    assert [m["acknowledged"] for m in stale.json()["messages"]] == [False]
    page.evaluate(f"location.hash = '#/inbox/{message_id}/ack'")
    for _ in range(100):
        if acknowledged(message_id):
            break
        page.wait_for_timeout(50)
    assert acknowledged(message_id)
    page.unroute("**/v1/app/messages?*")
    poll.fulfill(response=stale)
    expect(message(page, "Nobody looking")).to_be_visible()
    expect(message(page, "Nobody looking").get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(message(page, "Nobody looking")).not_to_have_class("unread")
    expect(message(page, "Nobody looking")).to_have_class(re.compile(r"\bopen\b"))  # the message asked for, once here
    expect(page.get_by_text("That message is no longer in your inbox.")).to_have_count(0)
    expect(page.locator("#nav-unread")).to_be_hidden()  # acknowledged is read: nothing unread


def shown_tags(page):
    return page.evaluate(
        "async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.tag)")


def with_notification(page, message_id):
    """The notification this browser showed for the message while nobody looked at the page."""
    page.evaluate(
        f"async () => (await navigator.serviceWorker.ready).showNotification('Pager', {{tag: '{message_id}'}})")
    assert str(message_id) in shown_tags(page)


def notifications_left(page, expected):
    for _ in range(50):
        if sorted(shown_tags(page)) == expected:
            break
        page.wait_for_timeout(100)
    return sorted(shown_tags(page))


def test_an_acknowledgement_on_another_device_takes_the_button_and_the_notification_away(new_context, site):
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)
    message_id = send_to(site, stored, channel, "Pager duty", **EMERGENCY)
    item = message(page, "Pager duty")
    expect(item.get_by_role("button", name="Acknowledge")).to_be_visible()
    with_notification(page, message_id)

    assert api(site, "POST", f"/v1/app/messages/{message_id}/ack", token=other_device(site, stored))[0] == 204

    expect(item.get_by_role("button", name="Acknowledge")).to_have_count(0)  # the stream's `acknowledged`
    expect(item).not_to_have_class("unread")
    expect(page.locator("#nav-unread")).to_be_hidden()
    assert notifications_left(page, []) == []


def test_a_read_or_delete_here_or_on_another_device_closes_this_devices_notification(new_context, site):
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)
    texts = ("Read", "Deleted", "Opened here", "Kept")
    read, deleted, opened, kept = (send_to(site, stored, channel, text) for text in texts)
    expect(message(page, "Kept")).to_be_visible()
    for message_id in (read, deleted, opened, kept):
        with_notification(page, message_id)
    phone = other_device(site, stored)

    assert api(site, "POST", f"/v1/app/messages/{read}/read", token=phone)[0] == 204
    assert api(site, "DELETE", f"/v1/app/messages/{deleted}", token=phone)[0] == 204
    message(page, "Opened here").click()  # read on this page

    expect(message(page, "Deleted")).to_have_count(0)
    expect(message(page, "Opened here")).not_to_have_class("unread")
    assert notifications_left(page, [str(kept)]) == [str(kept)]


def test_a_page_whose_stream_dropped_learns_the_acknowledgement_when_it_reconnects(new_context, site, stream_proxy,
                                                                                  allow_dropped_stream):
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)
    message_id = send_to(site, stored, channel, "Pager duty", **EMERGENCY)
    item = message(page, "Pager duty")
    expect(item.get_by_role("button", name="Acknowledge")).to_be_visible()
    stream_proxy.cut()  # the `acknowledged` event is sent while this page is not listening
    assert api(site, "POST", f"/v1/app/messages/{message_id}/ack", token=other_device(site, stored))[0] == 204
    stream_proxy.restore()
    expect(item.get_by_role("button", name="Acknowledge")).to_have_count(0)  # the reconnect's re-read
    expect(item).not_to_have_class("unread")


# --- action buttons ---

VIEW = {"type": "view", "label": "Open Grafana", "url": "https://grafana.example.com/d/1"}
CALLBACK = {"type": "callback", "label": "Restart", "id": "restart"}


def with_webhook(channel):
    """A webhook set in the row (the site's guard would refuse a local URL); no worker posts it in these tests."""
    from channels_app.models import Channel

    Channel.objects.filter(pk=channel.pk).update(webhook_url="http://127.0.0.1:9/hook")


def pressed(message_id):
    from messaging.models import WebhookEvent

    return [json.loads(e.payload)["data"]["action"]
            for e in WebhookEvent.objects.filter(type="action.pressed", message_id=message_id)]


def test_action_buttons_are_shown_and_a_callback_is_pressed(page, site):
    stored, channel = inbox_with_channel(page)
    with_webhook(channel)
    message_id = send_to(site, stored, channel, "Web is down", actions=[VIEW, CALLBACK])
    item = message(page, "Web is down")
    link = item.get_by_role("link", name="Open Grafana")
    expect(link).to_have_attribute("href", VIEW["url"])
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    item.get_by_role("button", name="Restart").click()
    expect(page.locator("#toast")).to_have_text("Sent: Restart")
    assert pressed(message_id) == ["restart"]


def test_a_notification_shows_the_senders_actions_after_acknowledge_two_at_most(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()
    devtools.deliver(payload(id=71, actions=[VIEW, CALLBACK]))
    devtools.deliver(payload(id=72, priority=2, actions=[VIEW, CALLBACK]))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    for _ in range(100):
        shown = sorted(shown_with_actions(viewer), key=lambda n: n["tag"])
        if len(shown) == 2:
            break
        viewer.wait_for_timeout(100)
    assert [n["actions"] for n in shown] == [[["a:0", "Open Grafana"], ["a:1", "Restart"]],
                                             [["ack", "Acknowledge"], ["a:0", "Open Grafana"]]]


def test_a_notifications_callback_is_pressed_through_the_open_page(new_context, site):
    context, page = app_context(new_context, site)
    stored, channel = registered_with_channel(page)
    with_webhook(channel)
    message_id = send_to(site, stored, channel, "Deploy?", actions=[CALLBACK])
    expect(message(page, "Deploy?")).to_be_visible()
    wait_for_service_worker(page)
    [worker] = context.service_workers
    worker.evaluate(f"pressFromNotification({message_id}, {json.dumps(CALLBACK)})")  # the "a:0" action's click
    expect(page.locator("#toast")).to_have_text("Sent: Restart")
    assert pressed(message_id) == ["restart"]
