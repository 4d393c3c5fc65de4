"""Web Push in the browser: the service worker shows pushes, once; the switch subscribes and registers a device.

A real push reaches the service worker through the DevTools protocol (ServiceWorker.deliverPushMessage),
since headless Chromium has no push service to receive it from.
"""

import json

import pytest
from playwright.sync_api import expect

from channels_app.services import channel_create
from tests.procs import start_worker
from tests.web.conftest import api, send
from tests.web.helpers import register, tokens, wait_for_service_worker
from tests.webpush_fixtures import webpush_env
from users_app.models import AppUser, Device


@pytest.fixture(scope="module")
def site_env(fake_webpush_server, vapid_pem):
    """The site pushes to the Web Push stand-in (its CA trusted, its host allowed) with a known VAPID key."""
    return webpush_env(fake_webpush_server, vapid_pem)


@pytest.fixture(scope="module")
def site_worker(site, tmp_path_factory):
    """A celery worker of the site: it delivers the pushes."""
    worker = start_worker(tmp_path_factory.mktemp("worker"), **{**site.env, "DELIVERY_SWEEP_INTERVAL": 1})
    yield worker
    worker.kill()


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
    assert shown[1]["data"] == {"id": 42, "url": "https://example.com/b", "actions": []}


def test_a_push_with_a_title_shows_it_as_the_title_and_the_channel_name_in_the_body(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()
    devtools.deliver(payload(id=43, title="Backup done", message="12.4 GB in 6 min"))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    [shown] = wait_for_notifications(viewer, 1)
    assert (shown["title"], shown["body"], shown["tag"]) == ("Backup done", "Garage: 12.4 GB in 6 min", "43")


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


@pytest.mark.parametrize("kind", ["withdraw", "dismiss"])  # withdrawn by the sender; acknowledged on some device
def test_a_withdraw_or_dismiss_push_closes_that_messages_notification_and_shows_none(new_context, site, kind):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()
    devtools.deliver(payload(id=51))
    devtools.deliver(payload(id=52, message="Still here"))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    wait_for_notifications(viewer, 2)
    devtools.deliver({"type": kind, "message_id": 51})
    for _ in range(50):
        if [n["tag"] for n in notifications(viewer)] == ["52"]:
            break
        viewer.wait_for_timeout(100)
    assert [(n["tag"], n["body"]) for n in notifications(viewer)] == [("52", "Still here")]


def test_opening_the_inbox_closes_the_notifications_of_messages_read_or_deleted_elsewhere(new_context, site):
    """No page of the app was open while another device read one message and deleted another: their notifications
    stayed. The inbox's first page closes them; an unread message's and a newer message's stay."""
    context, page = app_context(new_context, site)
    session = tokens(page)
    user_token, access_token = session["user_token"], session["access_token"]
    channel = channel_create(owner=AppUser.objects.get(token=user_token), name="Garage")
    texts = ("Read on the phone", "Deleted on the phone", "Still unread")
    ids = []
    for text in texts:
        status, body = send(site, to=user_token, token=channel.token, secret=channel.secret, message=text)
        assert status == 200, body
        ids.append(int(body["response"]["id"]))
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()
    for message_id, text in zip(ids, texts):
        devtools.deliver(payload(id=message_id, message=text))
    devtools.deliver(payload(id=ids[-1] + 1000, message="Sent after the page read the inbox"))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    assert len(wait_for_notifications(viewer, 4)) == 4
    assert api(site, "POST", f"/v1/app/messages/{ids[0]}/read", token=access_token)[0] == 204
    assert api(site, "DELETE", f"/v1/app/messages/{ids[1]}", token=access_token)[0] == 204
    viewer.goto("/")
    expect(viewer.locator("article.msg")).to_have_count(2)
    expected = sorted([str(ids[2]), str(ids[-1] + 1000)])
    for _ in range(50):
        if sorted(n["tag"] for n in notifications(viewer)) == expected:
            break
        viewer.wait_for_timeout(100)
    assert sorted(n["tag"] for n in notifications(viewer)) == expected


def test_a_push_while_the_page_is_in_front_is_not_shown_twice(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    page.bring_to_front()
    devtools.deliver(payload(id=9, message="Seen live"))
    expect(page.locator("#toast")).to_have_text("Garage: Seen live")
    assert notifications(page) == []


# The page cannot reach a real push service: PushManager.subscribe is stubbed (tests only) to return a
# subscription handed out by the Web Push stand-in, bound to the server's VAPID key, as a browser's would be.
STUB_PUSH_MANAGER = """
(() => {
  const subscription = %s;
  let current = null;
  const fake = {
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: null },
    toJSON: () => subscription,
    unsubscribe: async () => { current = null; window.__kpUnsubscribed = true; return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    window.__kpSubscribed = { userVisibleOnly: options.userVisibleOnly,
      key: btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey))) };
    current = fake;
    return fake;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


def b64url_to_b64(text):
    import base64

    return base64.b64encode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))).decode()


def switch_on(new_context, site, webpush):
    context = new_context()
    context.grant_permissions(["notifications"], origin=site.url)
    public_key = api(site, "GET", "/v1/app/webpush")[1]["public_key"]
    subscription = webpush.subscribe(public_key).as_json()
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(subscription))
    page = context.new_page()
    stored = register(page)
    wait_for_service_worker(page)
    page.locator("#nav").get_by_role("link", name="Settings").click()
    page.get_by_role("switch", name="Show notifications on this device").check()
    expect(page.locator("#notify-status")).to_contain_text("On:")
    assert page.evaluate("window.__kpSubscribed") == {"userVisibleOnly": True, "key": b64url_to_b64(public_key)}
    return context, page, stored, subscription


def test_the_switch_subscribes_with_the_servers_key_and_registers_the_device(new_context, site, webpush):
    context, page, stored, subscription = switch_on(new_context, site, webpush)
    devices = api(site, "GET", "/v1/app/devices", token=stored["access_token"])[1]["devices"]
    web = [d for d in devices if d["platform"] == "web" and d["active"]]
    device = Device.objects.get(push_token=subscription["endpoint"])
    assert device.user.token == stored["user_token"]
    assert str(device.pk) in {str(d["id"]) for d in web}
    expect(page.locator("#device-list li", has_text="this browser")).to_have_count(1)


def test_switching_off_unsubscribes_and_deletes_the_device(new_context, site, webpush):
    context, page, stored, subscription = switch_on(new_context, site, webpush)
    page.get_by_role("switch", name="Show notifications on this device").uncheck()
    expect(page.locator("#notify-status")).to_have_text("Off.")
    assert page.evaluate("window.__kpUnsubscribed") is True
    assert not Device.objects.filter(push_token=subscription["endpoint"]).exists()


def test_a_sent_message_reaches_the_service_worker_as_a_notification(new_context, site, webpush, site_worker):
    context, page, stored, subscription = switch_on(new_context, site, webpush)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    channel = channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name="Front door")
    status, body = send(site, to=stored["user_token"], token=channel.token, secret=channel.secret,
                        message="Someone rang", important=1)
    assert status == 200, body
    pushes = webpush.script.wait_for(lambda pushes: any(p["token"] == subscription["endpoint"] for p in pushes), 30)
    plaintext = [p for p in pushes if p["token"] == subscription["endpoint"]][0]["payload"]
    page.close()
    devtools.deliver(plaintext)  # what the push service would hand the browser, decrypted
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    [shown] = wait_for_notifications(viewer, 1)
    assert (shown["title"], shown["body"], shown["requireInteraction"]) == ("Front door", "Someone rang", True)


def test_a_message_sent_with_a_title_is_pushed_and_shown_with_that_title(new_context, site, webpush, site_worker):
    context, page, stored, subscription = switch_on(new_context, site, webpush)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    channel = channel_create(owner=AppUser.objects.get(token=stored["user_token"]), name="Nightly backups")
    status, body = send(site, to=stored["user_token"], token=channel.token, secret=channel.secret,
                        title="Backup done", message="12.4 GB in 6 min")
    assert status == 200, body
    pushes = webpush.script.wait_for(lambda pushes: any(p["token"] == subscription["endpoint"] for p in pushes), 30)
    plaintext = [p for p in pushes if p["token"] == subscription["endpoint"]][0]["payload"]
    page.close()
    devtools.deliver(plaintext)
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    [shown] = wait_for_notifications(viewer, 1)
    assert (shown["title"], shown["body"]) == ("Backup done", "Nightly backups: 12.4 GB in 6 min")


def test_a_push_with_a_title_while_the_page_is_in_front_names_channel_and_title(new_context, site):
    context, page = app_context(new_context, site)
    devtools = PushDevTools(context, site.url)
    page.bring_to_front()
    devtools.deliver(payload(id=10, title="Backup done", message="12.4 GB"))
    expect(page.locator("#toast")).to_have_text("Garage: Backup done · 12.4 GB")
    assert notifications(page) == []
