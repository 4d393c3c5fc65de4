"""A channel's Integrations in the browser: send keys shown once, listed, revoked; settings for other tools."""

import re

from playwright.sync_api import expect

from django.db import transaction

from channels_app.models import Channel, SendKey
from channels_app.services import send_key_create
from tests.web.conftest import api, send_keys
from tests.web.helpers import create_channel, register

KEY_RE = re.compile(r"k_[0-9a-f]{40}")


def keys_of(site, stored, token):
    return send_keys(site, token, stored["access_token"])


def create_key(page, label="", to=""):
    """Creates a key in the channel page's Integrations section; returns the key the page shows."""
    section = page.locator("#integrations")
    section.get_by_label("Label (optional)").fill(label)
    section.get_by_label("Sends to (optional)").fill(to)
    section.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-value")).to_have_text(KEY_RE)
    return page.locator("#new-key-value").text_content()


def test_a_new_key_is_shown_once_with_copy_and_fills_in_the_settings(new_context, site):
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = context.new_page()
    stored = register(page)
    token = create_channel(page, "Backups")
    expect(page.locator("#key-list")).to_contain_text("No keys yet.")
    expect(page.locator("#integration-snippet")).to_contain_text("YOUR_SEND_KEY")
    key = create_key(page, label="Backup server")
    new_key = page.locator("#new-key")
    expect(new_key).to_contain_text("Shown only now")
    new_key.get_by_role("button", name="Copy").click()
    expect(page.locator("#toast")).to_have_text("Key copied.")
    assert page.evaluate("navigator.clipboard.readText()") == key
    # The key works as this channel, to me: the API lists it (never the key itself), and the database holds its digest.
    [listed] = keys_of(site, stored, token)
    assert listed["label"] == "Backup server" and listed["to"] == stored["user_token"] and "key" not in listed
    assert SendKey.objects.get(pk=listed["id"]).channel.token == token
    row = page.locator("#key-list li", has_text="Backup server")
    expect(row).to_contain_text("to you")
    expect(row).to_contain_text("never used")
    # The settings use the new key and this server's address.
    snippet = page.locator("#integration-snippet")
    origin = site.url
    expect(snippet).to_contain_text(f'curl -d "Backup done" {origin}/{key}')
    expect(snippet).to_contain_text(f"{origin}/v1/hooks/{key}")
    expect(snippet).to_contain_text('-H "Title: ')
    expect(snippet).not_to_contain_text("YOUR_SEND_KEY")
    # Reloaded, the page no longer knows the key: it is nowhere, the settings show the placeholder.
    page.reload()
    expect(page.locator("#key-list li", has_text="Backup server")).to_be_visible()
    expect(page.locator("#new-key")).to_be_hidden()
    expect(snippet).to_contain_text("YOUR_SEND_KEY")
    assert key not in page.content()
    assert key not in page.locator("body").inner_text()
    assert key not in page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + location.href")


def test_every_tool_has_settings_with_the_key_and_this_server(page, site):
    register(page)
    create_channel(page, "Tools")
    key = create_key(page)
    host = re.sub(r"^https?://", "", site.url)
    expected = {
        "curl": [f"{site.url}/{key}", f"{site.url}/v1/hooks/{key}"],
        "Apprise": [f"gotify://{host}/{key}", f"ntfy://{host}/{key}"],
        "Uptime Kuma": ["ntfy", site.url, key],
        "Home Assistant": ["platform: rest", f"resource: {site.url}/v1/hooks/{key}"],
        "Alertmanager": ["webhook_configs:", f"url: {site.url}/v1/hooks/{key}"],
        "Grafana": ["Webhook", f"{site.url}/v1/hooks/{key}", "POST"],
        "Healthchecks": ["ntfy", site.url, key],
        "Proxmox": ["Gotify", site.url, key],
    }
    options = page.locator("#tool option").all_text_contents()
    assert options == list(expected)
    for tool, parts in expected.items():
        page.get_by_label("Tool", exact=True).select_option(tool)
        for part in parts:
            expect(page.locator("#integration-snippet")).to_contain_text(part)


def test_a_key_for_someone_else_and_an_unknown_user_token(page, site, allow_http_errors):
    allow_http_errors("/keys")
    stored = register(page)
    token = create_channel(page, "Shared")
    other = api(site, "POST", "/v1/app/register", {"platform": "web"})[1]
    create_key(page, label="For Bob", to=other["user_token"])
    row = page.locator("#key-list li", has_text="For Bob")
    expect(row).to_contain_text("to " + other["user_token"][:8])
    assert keys_of(site, stored, token)[0]["to"] == other["user_token"]
    page.locator("#integrations").get_by_label("Sends to (optional)").fill("u_" + "0" * 40)
    page.locator("#integrations").get_by_role("button", name="Create key").click()
    expect(page.locator("#key-status")).to_have_text("No inbox has that User Token: check it (it starts with u_).")
    assert len(keys_of(site, stored, token)) == 1


def test_revoke_after_confirming_removes_the_key(page, site):
    stored = register(page)
    token = create_channel(page, "Revoking")
    key = create_key(page, label="Old server")
    row = page.locator("#key-list li", has_text="Old server")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert len(keys_of(site, stored, token)) == 1
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("dialog")).to_contain_text("Revoke “Old server”?")
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator("#key-list")).to_contain_text("No keys yet.")
    expect(page.locator("#new-key")).to_be_hidden()  # the revoked key is gone from the page too
    expect(page.locator("#integration-snippet")).to_contain_text("YOUR_SEND_KEY")
    assert key not in page.content()
    assert keys_of(site, stored, token) == []


def test_the_keys_limit_is_said_in_plain_words(page, site, allow_http_errors):
    allow_http_errors("/keys")
    stored = register(page)
    token = create_channel(page, "Many keys")
    channel = Channel.objects.get(token=token)
    with transaction.atomic():
        for n in range(20):  # SEND_KEYS_PER_CHANNEL's default, the site's setting
            send_key_create(channel=channel, recipient=channel.owner, label=f"Key {n}")
    page.reload()
    expect(page.locator("#key-list li")).to_have_count(20)
    page.locator("#integrations").get_by_role("button", name="Create key").click()
    expect(page.locator("#key-status")).to_have_text("At most 20 keys per channel: revoke one you no longer use first.")
    expect(page.locator("#new-key")).to_be_hidden()
