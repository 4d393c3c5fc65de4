"""Web Push in the browser: the service worker shows pushes, once; the switch subscribes and registers a device.

A real push reaches the service worker through the DevTools protocol (ServiceWorker.deliverPushMessage),
since headless Chromium has no push service to receive it from.
"""

import json

from playwright.sync_api import expect

from tests.web.helpers import register, wait_for_service_worker


def payload(**overrides):
    """A push as the server sends it (issue 12's plaintext JSON)."""
    body = {
        "id": 41,
        "channel": {"token": "c_" + "a" * 40, "name": "Garage", "logo_url": None, "verified": False},
        "message": "The door is open",
        "url": None,
        "important": True,
        "created_at": "2026-11-28T06:00:00Z",
        "unread": 2,
    }
    body.update(overrides)
    return body


class PushDevTools:
    """A DevTools session on a blank page of the context, which delivers pushes to the app's service worker."""

    def __init__(self, context, origin):
        self.origin = origin
        self.page = context.new_page()
        self.cdp = context.new_cdp_session(self.page)
        self.registrations = {}
        self.cdp.on("ServiceWorker.workerRegistrationUpdated", self._updated)
        self.cdp.send("ServiceWorker.enable")

    def _updated(self, event):
        for registration in event["registrations"]:
            if registration["isDeleted"]:
                self.registrations.pop(registration["registrationId"], None)
            else:
                self.registrations[registration["registrationId"]] = registration["scopeURL"]

    def registration_id(self):
        for _ in range(100):
            for registration_id, scope in self.registrations.items():
                if scope == self.origin + "/":
                    return registration_id
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no service worker registration for {self.origin}: {self.registrations}")

    def deliver(self, data):
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": self.origin, "registrationId": self.registration_id(), "data": json.dumps(data)},
        )


def notifications(page):
    return page.evaluate(
        """async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({
            title: n.title, body: n.body, tag: n.tag, icon: n.icon, requireInteraction: n.requireInteraction,
            data: n.data}))"""
    )


def wait_for_notifications(page, count):
    for _ in range(100):
        shown = notifications(page)
        if len(shown) >= count:
            return shown
        page.wait_for_timeout(100)
    return notifications(page)


def app_context(new_context, site):
    context = new_context()
    context.grant_permissions(["notifications"], origin=site.url)
    page = context.new_page()
    register(page)
    wait_for_service_worker(page)
    return context, page


def test_a_push_shows_a_notification_with_the_channel_name_text_and_logo(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()  # no page of the app is open: the push must become a notification
    logo = site.url + "/media/logos/" + "0" * 32 + ".png"
    devtools.deliver(payload(id=41, important=True, channel={**payload()["channel"], "logo_url": logo}))
    devtools.deliver(payload(id=42, message="Backup done", important=None, url="https://example.com/b"))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")  # any page of the origin can read the registration's notifications
    shown = sorted(wait_for_notifications(viewer, 2), key=lambda n: n["tag"])
    assert [(n["title"], n["body"], n["tag"]) for n in shown] == [
        ("Garage", "The door is open", "41"),
        ("Garage", "Backup done", "42"),
    ]
    assert shown[0]["icon"] == logo
    assert shown[1]["icon"].endswith("/static/webapp/icons/icon-192.png")  # no channel logo: the app's
    assert shown[0]["requireInteraction"] is True
    assert shown[1]["requireInteraction"] is False
    assert shown[1]["data"] == {"id": 42, "url": "https://example.com/b"}


def test_the_same_message_pushed_twice_is_one_notification(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()
    devtools.deliver(payload(id=7))
    devtools.deliver(payload(id=7))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    wait_for_notifications(viewer, 1)
    viewer.wait_for_timeout(500)
    assert [n["tag"] for n in notifications(viewer)] == ["7"]


def test_a_push_while_the_page_is_in_front_is_not_shown_twice(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    page.bring_to_front()
    devtools.deliver(payload(id=9, message="Seen live"))
    expect(page.locator("#toast")).to_have_text("Garage: Seen live")
    assert notifications(page) == []
