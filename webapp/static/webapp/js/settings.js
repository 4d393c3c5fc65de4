// Settings: notifications, the User Token, devices, signed-in sessions, linking another browser or phone, deleting the account.
import { api, explain, session } from "./api.js";
import { chooseLanguage, chosenLanguage, gettext, interpolate, language, languages } from "./i18n.js";
import * as notify from "./notify.js";
import { qrCanvas } from "./qr.js";
import { busy, confirmDialog, copy, el, errorBox, show, timeElement, toast } from "./ui.js";

const until = new Intl.DateTimeFormat(language, { timeStyle: "short" });

export function formatCode(code) {
  return code.length > 5 ? `${code.slice(0, 5)}-${code.slice(5)}` : code;
}

function notificationsSection(onChange) {
  const toggle = el("input", { type: "checkbox", id: "notify-switch", role: "switch" });
  const status = el("p", { class: "form-status", id: "notify-status", role: "status" });
  const section = el("section", { class: "panel" }, el("h2", {}, gettext("Notifications")),
    el("label", { class: "switch", for: "notify-switch" }, toggle, el("span", {}, gettext("Show notifications on this device"))),
    status);
  if (!notify.supported()) {
    toggle.disabled = true;
    status.textContent = gettext("This browser cannot show push notifications. Messages still arrive live while the page is open.");
    return section;
  }
  notify.enabled().then((on) => {
    toggle.checked = on;
    if (Notification.permission === "denied") status.textContent = gettext("Notifications are blocked for this site in the browser's settings.");
  });
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      if (toggle.checked) {
        status.textContent = gettext("Turning on…");
        await notify.enable();
        status.textContent = gettext("On: messages show as notifications, also when the page is closed.");
      } else {
        status.textContent = gettext("Turning off…");
        await notify.disable();
        status.textContent = gettext("Off.");
      }
      onChange();
    } catch (error) {
      toggle.checked = !toggle.checked;
      status.textContent = notify.explainPush(error);
    } finally {
      toggle.disabled = false;
    }
  });
  return section;
}

// The language switch: the browser's language, or one chosen here and remembered on this device.
function languageSection() {
  const select = el("select", { id: "language" },
    el("option", { value: "" }, gettext("As the browser (automatic)")),
    languages().map(({ code, name }) => el("option", { value: code, lang: code }, name)));
  select.value = chosenLanguage();
  select.addEventListener("change", async () => {
    select.disabled = true;
    chooseLanguage(select.value);
    // The page comes again in the new language; so does the service worker (the browser looks for a new one
    // on every visit, and the one of another language keeps the shell afresh).
    await notify.workerSettled();
    location.reload();
  });
  return el("section", { class: "panel", id: "language-section" }, el("h2", {}, gettext("Language")),
    el("label", { for: "language" }, gettext("Language of this app on this device")), select);
}

function userTokenSection() {
  const token = session.userToken;
  const copyButton = el("button", { type: "button", class: "small", id: "copy-user-token" }, gettext("Copy"));
  copyButton.addEventListener("click", () => copy(token, gettext("User Token copied.")));
  return el("section", { class: "panel" }, el("h2", {}, gettext("Your User Token")),
    el("p", { class: "muted" }, gettext("This is your address: senders need it to reach your inbox. It is not a password.")),
    el("p", { class: "token-line" }, el("code", { id: "user-token" }, token), " ", copyButton),
    qrCanvas(token, { label: gettext("QR code of your User Token") }));
}

async function devicesSection() {
  const list = el("ul", { class: "devices", id: "device-list" });
  const section = el("section", { class: "panel" }, el("h2", {}, gettext("Devices")), list);
  async function load() {
    list.replaceChildren();
    let devices;
    try {
      ({ devices } = await api.devices());
    } catch (error) {
      list.append(el("li", { class: "muted" }, error.status === 4004 ? gettext("This server does not list devices.") : explain(error)));
      return;
    }
    // A browser with notifications off is signed in (see the sessions) but receives no pushes: not listed here.
    devices = devices.filter((device) => device.receives_pushes !== false || !device.active);
    if (!devices.length) list.append(el("li", { class: "muted" }, gettext("No device receives pushes yet.")));
    for (const device of devices) {
      const mine = String(device.id) === notify.deviceId();
      const remove = el("button", { type: "button", class: "small danger" }, gettext("Remove"));
      remove.addEventListener("click", busy(remove, async () => {
        const ok = await confirmDialog({
          title: gettext("Remove this device?"),
          text: gettext("It stops receiving push notifications from this inbox."),
          ok: gettext("Remove"),
        });
        if (!ok) return;
        try {
          if (mine) await notify.disable();
          else await api.removeDevice(device.id);
          toast(gettext("Device removed."));
        } catch (error) {
          toast(explainSignOut(error), { error: true });
        }
        load();
      }));
      list.append(el("li", { class: "device-row", dataset: { id: device.id } },
        el("span", { class: "grow" },
          el("strong", {}, device.label || platformName(device.platform)),
          mine ? el("span", { class: "badge" }, gettext("this browser")) : null,
          device.active ? null : el("span", { class: "badge important" }, gettext("inactive")),
          el("br"),
          el("span", { class: "muted" }, `${device.platform} · `, gettext("added"), " ", timeElement(device.created_at))),
        remove));
    }
  }
  await load();
  section.reload = load;
  return section;
}

// The server names a session in English ("Chrome on Linux", "Android app": users_app/session_labels.py); the
// names it makes are said in the page's language, any other label is shown as it is.
const BROWSERS = ["Edge", "Opera", "Samsung Internet", "Firefox", "Chrome", "Chromium", "Safari"];
const SYSTEMS = ["iPhone", "iPad", "Android", "ChromeOS", "Windows", "macOS", "Linux"];

export function sessionName(label) {
  if (!label) return gettext("Unknown browser or app");
  if (label === "Android app") return gettext("Android app");
  if (label === "iOS app") return gettext("iOS app");
  const match = label.match(/^(.+) on (.+)$/);
  if (match && BROWSERS.includes(match[1]) && SYSTEMS.includes(match[2])) {
    return interpolate(gettext("%(browser)s on %(os)s"), { browser: match[1], os: match[2] });
  }
  return label;
}

function platformName(platform) {
  const names = { web: gettext("Web browser"), android: gettext("Android phone"), ios: gettext("iPhone or iPad") };
  return names[platform] || platform;
}

// 4003 here is the server's refusal (the only session, or this one by id), not the send API's wrong secret.
function explainSignOut(error) {
  if (error.status !== 4003) return explain(error);
  if (language === "en") return error.message;
  return gettext("This browser or phone cannot be signed out here: link another one first, or delete the account.");
}

// The browsers and phones signed in to this inbox (its access tokens), each with "Sign out".
async function sessionsSection({ beforeSignOut, onSignedOut, onFailed }) {
  const list = el("ul", { class: "devices", id: "session-list" });
  const section = el("section", { class: "panel" }, el("h2", {}, gettext("Signed-in browsers and phones")), list);
  async function load() {
    let sessions;
    try {
      ({ sessions } = await api.sessions());
    } catch (error) {
      list.replaceChildren(el("li", { class: "muted" }, error.status === 4004 ? gettext("This server does not list sessions.") : explain(error)));
      return;
    }
    list.replaceChildren();
    const only = sessions.length === 1;
    for (const item of sessions) {
      const name = sessionName(item.label);
      const signOut = el("button", { type: "button", class: "small danger" }, gettext("Sign out"));
      if (item.current && only) {
        signOut.disabled = true;
        signOut.title = gettext("The only signed-in device: link another one first, or delete the account.");
      }
      signOut.addEventListener("click", busy(signOut, async () => {
        const ok = await confirmDialog(item.current ? {
          title: gettext("Sign out this browser?"),
          text: gettext("This browser forgets the inbox and stops showing its notifications. Your other devices stay signed in."),
          ok: gettext("Sign out"),
        } : {
          title: interpolate(gettext("Sign out %(name)s?"), { name }),
          text: gettext("It can no longer read this inbox or get its notifications: its open pages are signed out within seconds. If it still shows notifications, remove it under Devices."),
          ok: gettext("Sign out"),
        });
        if (!ok) return;
        if (item.current) {
          try {
            await notify.disable().catch(() => {});
            // Live updates stop first: signing out ends this browser's stream, and a reconnect would be refused.
            beforeSignOut();
            await api.signOut();
          } catch (error) {
            toast(explainSignOut(error), { error: true });
            onFailed();
            return;
          }
          session.clear();
          onSignedOut();
          return;
        }
        try {
          await api.revokeSession(item.id);
          toast(interpolate(gettext("%(name)s is signed out."), { name }));
        } catch (error) {
          toast(explainSignOut(error), { error: true });
        }
        load();
      }));
      const times = el("span", { class: "muted" }, gettext("signed in"), " ", timeElement(item.created_at));
      if (item.last_used_at) times.append(" · ", gettext("last used"), " ", timeElement(item.last_used_at));
      list.append(el("li", { class: "device-row session-row", dataset: { id: item.id } },
        el("span", { class: "grow" },
          el("strong", {}, name),
          item.current ? [" ", el("span", { class: "badge" }, gettext("this browser"))] : null,
          el("br"),
          times),
        signOut));
    }
    if (only) {
      list.append(el("li", { class: "muted" },
        gettext("Only this browser is signed in. Link another browser or phone below before signing this one out.")));
    }
  }
  await load();
  return section;
}

function linkSection() {
  const make = el("button", { type: "button", id: "make-link-code" }, gettext("Link another browser or phone"));
  const out = el("div", { id: "link-code-box" });
  make.addEventListener("click", busy(make, async () => {
    try {
      const { code, expires_at: expiresAt } = await api.linkCode();
      const url = `${location.origin}/#link=${code}`;
      out.replaceChildren(
        el("p", {}, gettext("On the other device, open this page and choose “I have a link code”, or scan the QR code:")),
        el("p", { class: "link-code", id: "link-code" }, formatCode(code)),
        qrCanvas(url, { label: gettext("QR code that links another device") }),
        el("p", { class: "muted" }, interpolate(gettext("Works once, until %(time)s."), { time: until.format(new Date(expiresAt)) })),
      );
    } catch (error) {
      out.replaceChildren(errorBox(explain(error)));
    }
  }));
  return el("section", { class: "panel" }, el("h2", {}, gettext("Link a device")),
    el("p", { class: "muted" }, gettext("Read the same inbox on another browser or phone. A code works once, for 10 minutes.")),
    make, out);
}

function deleteSection(onDeleted, beforeDelete) {
  const confirmInput = el("input", { id: "delete-confirm", autocomplete: "off", "aria-describedby": "delete-help" });
  const button = el("button", { type: "submit", class: "danger", id: "delete-account", disabled: true }, gettext("Delete my account"));
  const status = el("p", { class: "form-status", role: "status" });
  // The word to type is the page's language's ("delete", "удалить"); the English word is always taken too.
  const word = gettext("delete");
  confirmInput.addEventListener("input", () => {
    const typed = confirmInput.value.trim().toLowerCase();
    button.disabled = typed !== word.toLowerCase() && typed !== "delete";
  });
  const [before, after] = gettext("Type %(word)s to confirm.").split("%(word)s");
  const form = el("form", { class: "panel danger-zone", id: "delete-form" }, el("h2", {}, gettext("Delete account")),
    el("p", { id: "delete-help" },
      gettext("This deletes your inbox, channels, devices and blocked list on every device, for good."), " ",
      before, el("strong", {}, word), after || ""),
    confirmInput, el("div", { class: "actions" }, button), status);
  form.addEventListener("submit", busy(button, async () => {
    try {
      await notify.disable().catch(() => {});
      // Live updates stop first: the deletion ends the stream, and a reconnect would be refused (401).
      beforeDelete();
      await api.deleteAccount();
      onDeleted();
    } catch (error) {
      status.textContent = explain(error);
    }
  }));
  return form;
}

export async function screen({ onDeleted, beforeDelete = () => {}, onFailed = () => {} }) {
  let devices;
  let sessions;
  try {
    devices = await devicesSection();
    sessions = await sessionsSection({ beforeSignOut: beforeDelete, onSignedOut: onDeleted, onFailed });
  } catch (error) {
    show(el("h1", {}, gettext("Settings")), errorBox(explain(error)));
    return;
  }
  show(
    el("h1", {}, gettext("Settings")),
    languageSection(),
    notificationsSection(() => devices.reload()),
    userTokenSection(),
    devices,
    sessions,
    linkSection(),
    deleteSection(onDeleted, beforeDelete),
  );
}
