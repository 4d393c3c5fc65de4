// Settings: notifications, the User Token, devices, signed-in sessions, linking another browser or phone, deleting the account.
import { api, explain, session } from "./api.js";
import * as notify from "./notify.js";
import { qrCanvas } from "./qr.js";
import { busy, confirmDialog, copy, el, errorBox, show, timeElement, toast } from "./ui.js";

const until = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

export function formatCode(code) {
  return code.length > 5 ? `${code.slice(0, 5)}-${code.slice(5)}` : code;
}

function notificationsSection(onChange) {
  const toggle = el("input", { type: "checkbox", id: "notify-switch", role: "switch" });
  const status = el("p", { class: "form-status", id: "notify-status", role: "status" });
  const section = el("section", { class: "panel" }, el("h2", {}, "Notifications"),
    el("label", { class: "switch", for: "notify-switch" }, toggle, el("span", {}, "Show notifications on this device")),
    status);
  if (!notify.supported()) {
    toggle.disabled = true;
    status.textContent = "This browser cannot show push notifications. Messages still arrive live while the page is open.";
    return section;
  }
  notify.enabled().then((on) => {
    toggle.checked = on;
    if (Notification.permission === "denied") status.textContent = "Notifications are blocked for this site in the browser's settings.";
  });
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      if (toggle.checked) {
        status.textContent = "Turning on…";
        await notify.enable();
        status.textContent = "On: messages show as notifications, also when the page is closed.";
      } else {
        status.textContent = "Turning off…";
        await notify.disable();
        status.textContent = "Off.";
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

function userTokenSection() {
  const token = session.userToken;
  const copyButton = el("button", { type: "button", class: "small", id: "copy-user-token" }, "Copy");
  copyButton.addEventListener("click", () => copy(token, "User Token"));
  return el("section", { class: "panel" }, el("h2", {}, "Your User Token"),
    el("p", { class: "muted" }, "This is your address: senders need it to reach your inbox. It is not a password."),
    el("p", { class: "token-line" }, el("code", { id: "user-token" }, token), " ", copyButton),
    qrCanvas(token, { label: "QR code of your User Token" }));
}

async function devicesSection() {
  const list = el("ul", { class: "devices", id: "device-list" });
  const section = el("section", { class: "panel" }, el("h2", {}, "Devices"), list);
  async function load() {
    list.replaceChildren();
    let devices;
    try {
      ({ devices } = await api.devices());
    } catch (error) {
      list.append(el("li", { class: "muted" }, error.status === 4004 ? "This server does not list devices." : explain(error)));
      return;
    }
    if (!devices.length) list.append(el("li", { class: "muted" }, "No device receives pushes yet."));
    for (const device of devices) {
      const mine = String(device.id) === notify.deviceId();
      const remove = el("button", { type: "button", class: "small danger" }, "Remove");
      remove.addEventListener("click", busy(remove, async () => {
        const ok = await confirmDialog({
          title: "Remove this device?",
          text: "It stops receiving push notifications from this inbox.",
          ok: "Remove",
        });
        if (!ok) return;
        try {
          if (mine) await notify.disable();
          else await api.removeDevice(device.id);
          toast("Device removed.");
        } catch (error) {
          toast(explainSignOut(error), { error: true });
        }
        load();
      }));
      list.append(el("li", { class: "device-row", dataset: { id: device.id } },
        el("span", { class: "grow" },
          el("strong", {}, device.label || { web: "Web browser", android: "Android phone", ios: "iPhone or iPad" }[device.platform] || device.platform),
          mine ? el("span", { class: "badge" }, "this browser") : null,
          device.active ? null : el("span", { class: "badge important" }, "inactive"),
          el("br"),
          el("span", { class: "muted" }, `${device.platform} · added `, timeElement(device.created_at))),
        remove));
    }
  }
  await load();
  section.reload = load;
  return section;
}

// 4003 here is the server's own sentence (the only session, or this one by id), not the send API's wrong secret.
function explainSignOut(error) {
  return error.status === 4003 ? error.message : explain(error);
}

// The browsers and phones signed in to this inbox (its access tokens), each with "Sign out".
async function sessionsSection({ beforeSignOut, onSignedOut, onFailed }) {
  const list = el("ul", { class: "devices", id: "session-list" });
  const section = el("section", { class: "panel" }, el("h2", {}, "Signed-in browsers and phones"), list);
  async function load() {
    let sessions;
    try {
      ({ sessions } = await api.sessions());
    } catch (error) {
      list.replaceChildren(el("li", { class: "muted" }, error.status === 4004 ? "This server does not list sessions." : explain(error)));
      return;
    }
    list.replaceChildren();
    const only = sessions.length === 1;
    for (const item of sessions) {
      const name = item.label || "Unknown browser or app";
      const signOut = el("button", { type: "button", class: "small danger" }, "Sign out");
      if (item.current && only) {
        signOut.disabled = true;
        signOut.title = "The only signed-in device: link another one first, or delete the account.";
      }
      signOut.addEventListener("click", busy(signOut, async () => {
        const ok = await confirmDialog(item.current ? {
          title: "Sign out this browser?",
          text: "This browser forgets the inbox and stops showing its notifications. Your other devices stay signed in.",
          ok: "Sign out",
        } : {
          title: `Sign out ${name}?`,
          text: "It can no longer read this inbox: its open pages are signed out within seconds. If it shows notifications, also remove it under Devices.",
          ok: "Sign out",
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
          toast(`${name} is signed out.`);
        } catch (error) {
          toast(explainSignOut(error), { error: true });
        }
        load();
      }));
      const times = el("span", { class: "muted" }, "signed in ", timeElement(item.created_at));
      if (item.last_used_at) times.append(" · last used ", timeElement(item.last_used_at));
      list.append(el("li", { class: "device-row session-row", dataset: { id: item.id } },
        el("span", { class: "grow" },
          el("strong", {}, name),
          item.current ? [" ", el("span", { class: "badge" }, "this browser")] : null,
          el("br"),
          times),
        signOut));
    }
    if (only) list.append(el("li", { class: "muted" }, "Only this browser is signed in. Link another browser or phone below before signing this one out."));
  }
  await load();
  return section;
}

function linkSection() {
  const make = el("button", { type: "button", id: "make-link-code" }, "Link another browser or phone");
  const out = el("div", { id: "link-code-box" });
  make.addEventListener("click", busy(make, async () => {
    try {
      const { code, expires_at: expiresAt } = await api.linkCode();
      const url = `${location.origin}/#link=${code}`;
      out.replaceChildren(
        el("p", {}, "On the other device, open this page and choose “I have a link code”, or scan the QR code:"),
        el("p", { class: "link-code", id: "link-code" }, formatCode(code)),
        qrCanvas(url, { label: "QR code that links another device" }),
        el("p", { class: "muted" }, `Works once, until ${until.format(new Date(expiresAt))}.`),
      );
    } catch (error) {
      out.replaceChildren(errorBox(explain(error)));
    }
  }));
  return el("section", { class: "panel" }, el("h2", {}, "Link a device"),
    el("p", { class: "muted" }, "Read the same inbox on another browser or phone. A code works once, for 10 minutes."),
    make, out);
}

function deleteSection(onDeleted, beforeDelete) {
  const confirmInput = el("input", { id: "delete-confirm", autocomplete: "off", "aria-describedby": "delete-help" });
  const button = el("button", { type: "submit", class: "danger", id: "delete-account", disabled: true }, "Delete my account");
  const status = el("p", { class: "form-status", role: "status" });
  confirmInput.addEventListener("input", () => (button.disabled = confirmInput.value.trim().toLowerCase() !== "delete"));
  const form = el("form", { class: "panel danger-zone", id: "delete-form" }, el("h2", {}, "Delete account"),
    el("p", { id: "delete-help" }, "This deletes your inbox, channels, devices and blocked list on every device, for good. Type ",
      el("strong", {}, "delete"), " to confirm."),
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
    show(el("h1", {}, "Settings"), errorBox(explain(error)));
    return;
  }
  show(
    el("h1", {}, "Settings"),
    notificationsSection(() => devices.reload()),
    userTokenSection(),
    devices,
    sessions,
    linkSection(),
    deleteSection(onDeleted, beforeDelete),
  );
}
