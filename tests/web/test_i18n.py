"""The web app in Russian and English (issue 28): the browser's language, the switch in Settings, and catalogs
that hold every string of the templates and scripts, each translated (docs/translating.md)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import urllib.error
import urllib.request

import polib
import pytest
from django.conf import settings
from playwright.sync_api import expect

from channels_app.services import channel_create
from tests.web.conftest import WAIT_MS, send
from tests.web.helpers import wait_for_service_worker
from tests.web.test_attention_page import shown_with_actions
from tests.web.test_notifications import PushDevTools, payload
from users_app.models import AppUser

SCREENS = ["#/inbox", "#/channels", "#/channels/CHANNEL", "#/blocked", "#/settings"]

ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
PLACEHOLDER = re.compile(r"%\(\w+\)s|%%|%s")

# Words a Russian screen may show in Latin letters: names of products, protocols and tools, and the platform's
# own terms for its tokens (the API and the docs call them so).
LATIN_ALLOWED = {
    "KILO", "Push", "User", "Token", "Channel", "Secret", "Key", "API", "HTTP", "QR", "UTC", "ntfy", "Gotify",
    "Uptime", "Kuma", "Home", "Assistant", "Grafana", "Alertmanager", "Apprise", "Healthchecks", "Proxmox", "curl",
    "JSON", "Python", "JavaScript", "PHP", "PNG", "JPEG", "WebP", "GIF", "Chrome", "Linux", "Android", "iPhone",
    "iPad", "push", "u_", "ABCDE", "FGHJK",  # the last two: the link code's shape (a placeholder)
}


def entries(path):
    return [entry for entry in polib.pofile(str(path)) if not entry.obsolete]


def key(entry):
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


# --- the catalogs


def test_there_is_a_russian_catalog_for_the_server_and_for_the_scripts():
    assert {path.relative_to(LOCALE).as_posix() for path in CATALOGS} >= {
        "ru/LC_MESSAGES/django.po", "ru/LC_MESSAGES/djangojs.po"}
    assert ("ru", "Русский") in settings.LANGUAGES and settings.LANGUAGES[0] == ("en", "English")


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.relative_to(LOCALE).as_posix())
def test_every_entry_is_translated_and_keeps_its_placeholders(path):
    catalog = polib.pofile(str(path))
    nplurals = int(re.search(r"nplurals=(\d+)", catalog.metadata["Plural-Forms"]).group(1))
    if path.parts[-3] == "ru":
        assert nplurals == 3, "Russian has three plural forms (1 канал, 2 канала, 5 каналов)"
    problems = []
    for entry in entries(path):
        forms = [entry.msgstr_plural.get(i, "") for i in range(nplurals)] if entry.msgid_plural else [entry.msgstr]
        wanted = sorted(PLACEHOLDER.findall(entry.msgid))
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        elif not all(form.strip() for form in forms):
            problems.append(f"untranslated: {entry.msgid!r}")
        elif any(sorted(PLACEHOLDER.findall(form)) != wanted for form in forms if "%(count)s" not in entry.msgid):
            problems.append(f"placeholders differ: {entry.msgid!r}")
    assert not problems, "\n".join(problems)


def extracted(tmp_path, domain):
    """What `makemessages` finds in a copy of the sources (the committed catalogs are left alone)."""
    assert shutil.which("xgettext"), "GNU gettext's xgettext is needed: apt-get install -y gettext (make test does it)"
    copy = tmp_path / "src"
    skip = shutil.ignore_patterns(".venv", ".git", "var", "tests", "bench", "locale", "docs", "__pycache__", "*.png")
    shutil.copytree(ROOT, copy, ignore=skip)
    (copy / "locale" / "ru" / "LC_MESSAGES").mkdir(parents=True)
    command = [sys.executable, "manage.py", "makemessages", "-l", "ru", "-d", domain, "--no-location",
               "--ignore=webapp/static/webapp/vendor/*"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kilopush.settings", "SECRET_KEY": "x",
           "KILOPUSH_VAR_DIR": str(tmp_path / "var")}
    subprocess.run(command, cwd=copy, env=env, check=True, capture_output=True, timeout=300)
    return {key(entry) for entry in entries(copy / "locale" / "ru" / "LC_MESSAGES" / f"{domain}.po") if entry.msgid}


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_of_the_templates_and_scripts_is_in_each_catalog(tmp_path, domain):
    found = extracted(tmp_path, domain)
    assert len(found) > 50
    for catalog in LOCALE.glob(f"*/LC_MESSAGES/{domain}.po"):
        committed = {key(entry) for entry in entries(catalog) if entry.msgid}
        missing, stale = found - committed, committed - found
        assert not missing, f"{catalog}: not in the catalog (run make messages, then translate): {sorted(missing)}"
        assert not stale, f"{catalog}: no longer in the sources (run make messages): {sorted(stale)}"


def test_the_api_answers_in_english_whatever_the_browser_asks(site):
    """DRF's own messages have Russian translations; the API's envelope must not use them (the contract)."""
    request = urllib.request.Request(site.url + "/v1/app/link", data=b"{}", method="POST", headers={
        "Accept-Language": "ru-RU,ru;q=0.9", "Content-Type": "application/json", "Cookie": "kp_language=ru"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    body = json.loads(raised.value.read())
    assert raised.value.code == 400
    assert body["response"] == {"status": 4005, "message": "code: This field is required."}
    assert raised.value.headers.get("Content-Language") in (None, "en")


# --- the page in the browser's language


def visible_latin_words(page):
    """Latin words of the visible text, less code, tokens and user data (channel names, message texts)."""
    text = page.evaluate(
        """() => {
          const skip = "code, pre, .channel-name, .text, .title, .link, .link-code, .token-line, .key-label, select#tool";
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          const parts = [];
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const parent = node.parentElement;
            if (!parent || parent.closest(skip) || parent.closest("[hidden], noscript, script, style, dialog:not([open])")) continue;
            if (!parent.checkVisibility()) continue;
            parts.push(node.textContent);
          }
          for (const node of document.querySelectorAll("[placeholder], [aria-label], [title], img[alt]")) {
            if (node.closest(skip) || !node.checkVisibility()) continue;
            parts.push(node.getAttribute("placeholder") || "", node.getAttribute("aria-label") || "",
                       node.getAttribute("title") || "", node.getAttribute("alt") || "");
          }
          return parts.join(" ");
        }"""
    )
    words = set(re.findall(r"[A-Za-z_]{2,}", text))
    return sorted(words - LATIN_ALLOWED)


def russian(page):
    assert page.evaluate("document.documentElement.lang") == "ru"
    words = visible_latin_words(page)
    assert not words, f"English left on a Russian screen: {words}"


@pytest.fixture
def ru_page(new_context):
    return new_context(locale="ru-RU").new_page()


def test_a_russian_browser_gets_every_screen_in_russian(ru_page, site):
    page = ru_page
    page.goto("/")
    expect(page.get_by_role("heading", name="Ваш личный ящик для уведомлений")).to_be_visible()
    russian(page)
    page.get_by_role("button", name="У меня есть код привязки").click()
    expect(page.get_by_label("Код привязки с другого устройства")).to_be_visible()
    russian(page)
    page.get_by_role("button", name="Создать мой ящик").click()
    expect(page.get_by_role("heading", name="Ваш ящик готов")).to_be_visible()
    russian(page)
    page.get_by_role("button", name="Открыть мой ящик").click()
    expect(page.get_by_role("heading", name="Входящие", exact=True)).to_be_visible()
    expect(page.locator("#inbox-empty")).to_be_visible()
    expect(page.locator("#inbox-empty")).to_contain_text("Сообщений пока нет")
    expect(page.locator("#live-state")).to_have_text(re.compile("^(Онлайн|Обновление)$"))
    russian(page)

    page.locator("#nav").get_by_role("link", name="Каналы").click()
    expect(page.locator(".panel.empty")).to_have_text("У вас пока нет каналов.")
    russian(page)
    page.get_by_label("Название").fill("Входная дверь")
    page.get_by_role("button", name="Создать канал").click()
    expect(page.locator("h1.channel-name")).to_have_text("Входная дверь")
    expect(page.locator("#usage")).to_have_text("сегодня: 0 из 300")
    russian(page)
    page.get_by_role("button", name="Отправить себе").click()
    expect(page.locator("#test-status")).to_have_text("Отправлено. Сообщение уже во входящих.")
    expect(page.locator("#snippet")).to_contain_text("Дверь открыта")
    page.get_by_role("link", name="‹ Каналы").click()
    expect(page.locator("#channel-list")).to_contain_text("сегодня: 1 из 300")
    russian(page)

    page.locator("#nav").get_by_role("link", name="Входящие").click()
    item = page.locator("article.msg").first
    expect(item.locator("p.text")).to_have_text("Привет от KILO.Push")
    expect(item.locator("time")).to_have_text("только что")
    expect(item.get_by_role("button", name="Заблокировать канал")).to_have_count(0)  # one's own channel
    russian(page)

    page.locator("#nav").get_by_role("link", name="Блокировки").click()
    expect(page.get_by_role("heading", name="Заблокированные каналы")).to_be_visible()
    expect(page.locator(".panel.empty")).to_have_text("Вы не заблокировали ни одного канала.")
    russian(page)

    page.locator("#nav").get_by_role("link", name="Настройки").click()
    expect(page.get_by_role("heading", name="Настройки")).to_be_visible()
    expect(page.locator("#session-list")).to_contain_text("Chrome на Linux")
    expect(page.locator("#language")).to_have_value("")  # the browser's language, not a choice
    russian(page)


def test_times_and_counts_are_said_in_russian(ru_page, site):
    page = ru_page
    page.goto("/")
    page.get_by_role("button", name="Создать мой ящик").click()
    page.get_by_role("button", name="Открыть мой ящик").click()
    assert page.evaluate("""async () => {
        const { timeAgo } = await import("/static/webapp/js/ui.js");
        return timeAgo(new Date(Date.now() - 3 * 60000));
    }""").startswith("3 мин")
    forms = page.evaluate("""() => [1, 2, 5, 11, 21, 22].map((n) => ngettext("%(count)s minute", "%(count)s minutes", n))""")
    assert forms == ["%(count)s минуту", "%(count)s минуты", "%(count)s минут", "%(count)s минут",
                     "%(count)s минуту", "%(count)s минуты"]


def test_an_english_browser_stays_english(page, site):
    page.goto("/")
    expect(page.get_by_role("heading", name="Your own push inbox")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("button", name="Create my inbox").click()
    page.get_by_role("button", name="Open my inbox").click()
    expect(page.locator("#nav")).to_contain_text("Inbox")
    expect(page.locator("#inbox-empty")).to_contain_text("No messages yet")


def test_the_language_switch_is_remembered_on_this_device(page, site):
    page.goto("/")
    page.get_by_role("button", name="Create my inbox").click()
    page.get_by_role("button", name="Open my inbox").click()
    page.locator("#nav").get_by_role("link", name="Settings").click()
    page.locator("#language").select_option("ru")
    expect(page.get_by_role("heading", name="Настройки")).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("document.documentElement.lang") == "ru"
    expect(page.locator("#language")).to_have_value("ru")
    page.goto("/#/inbox")  # a later visit on this device, still Russian though the browser says English
    expect(page.get_by_role("heading", name="Входящие", exact=True)).to_be_visible()
    page.locator("#nav").get_by_role("link", name="Настройки").click()
    page.locator("#language").select_option("")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("document.documentElement.lang") == "en"
    # Switching again right away, while the last language's service worker may still be taking over: each reload
    # waits for it (Chromium could leave it waiting and hang the reload; settings.js, workerSettled).
    for language, heading in [("ru", "Настройки"), ("", "Settings"), ("ru", "Настройки")]:
        page.locator("#language").select_option(language)
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=WAIT_MS)


def test_the_service_workers_acknowledge_action_is_in_the_page_language(new_context, site):
    context = new_context(locale="ru-RU")
    context.grant_permissions(["notifications"], origin=site.url)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="Создать мой ящик").click()
    wait_for_service_worker(page)
    devtools = PushDevTools(context, site.url)
    devtools.registration_id()
    page.close()  # no page in front: the worker shows the notification itself
    devtools.deliver(payload(id=71, priority=2))
    viewer = context.new_page()
    viewer.goto("/static/webapp/app.css")
    for _ in range(100):
        shown = shown_with_actions(viewer)
        if shown:
            break
        viewer.wait_for_timeout(100)
    assert shown[0]["actions"] == [["ack", "Подтвердить"]]


def test_offline_before_the_shell_is_kept_the_worker_says_so_in_the_page_language(new_context, site,
                                                                                   allow_offline_errors):
    context = new_context(locale="ru-RU")
    page = context.new_page()
    page.goto("/")
    wait_for_service_worker(page)
    page.evaluate("""async () => {
        for (const name of await caches.keys()) await (await caches.open(name)).delete("/");
    }""")
    context.set_offline(True)
    page.goto("/")
    expect(page.get_by_role("heading", name="Нет сети")).to_be_visible()
    expect(page.get_by_role("link", name="Попробовать снова")).to_be_visible()
    russian(page)
    context.set_offline(False)


@pytest.mark.parametrize("screen", SCREENS)
def test_every_russian_screen_fits_360_px(new_context, site, screen):
    """Russian words are longer: nothing may overflow a phone's width (nav, buttons, badges)."""
    page = new_context(viewport={"width": 360, "height": 740}, locale="ru-RU").new_page()
    page.goto("/")
    page.get_by_role("button", name="Создать мой ящик").click()
    page.get_by_role("button", name="Открыть мой ящик").click()
    user_token = page.evaluate("localStorage.getItem('kp.user_token')")
    channel = channel_create(owner=AppUser.objects.get(token=user_token), name="Ночные бэкапы")
    send(site, to=user_token, token=channel.token, secret=channel.secret, message="Бэкап готов", priority=2, retry=60, expire=3600)
    page.goto("/" + screen.replace("CHANNEL", channel.token))
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("#nav")).to_be_visible()
    page.wait_for_timeout(300)  # the sections that load after the heading
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{screen} is {width} px wide in Russian"
    overflowing = page.evaluate("""() => [...document.querySelectorAll("button, .badge, nav a, label, h1, h2, .tab")]
        .filter((node) => node.checkVisibility() && (node.getBoundingClientRect().right > 360.5
                                                      || node.scrollWidth > node.clientWidth + 1))
        .map((node) => node.textContent.trim())""")
    assert not overflowing, f"{screen}: cut or overflowing in Russian: {overflowing}"


def test_the_staff_admin_statistics_page_is_in_russian(site, admin_client_ru):
    body = admin_client_ru.get("/admin/stats/").content.decode()
    assert "Статистика" in body and "Принято сообщений по дням" in body
    assert "Messages accepted per day" not in body


@pytest.fixture
def admin_client_ru(db, client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ru"
    return client
