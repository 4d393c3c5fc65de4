// Small DOM helpers. User data always goes in as text (textContent), never as HTML.
import { gettext, language } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function main() {
  return document.getElementById("main");
}

// Replaces the main area with a screen and moves the focus there, for keyboard and screen-reader users.
export function show(...children) {
  const area = clear(main());
  area.append(...children);
  const heading = area.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  return area;
}

let toastTimer = null;
export function toast(text, { error = false } = {}) {
  const node = document.getElementById("toast");
  node.textContent = text;
  node.classList.toggle("error", error);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), error ? 8000 : 3500);
}

export function banner(text) {
  const node = document.getElementById("banner");
  node.textContent = text || "";
  node.hidden = !text;
}

// A modal question; resolves true only for OK. Native confirm() would block the page and cannot be styled.
export function confirmDialog({ title, text, ok = gettext("OK") }) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = ok;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

// copied: the toast's sentence ("Key copied."), whole, as each language words it.
export async function copy(text, copied) {
  try {
    await navigator.clipboard.writeText(text);
    toast(copied);
  } catch {
    toast(gettext("Could not copy: select the text and copy it by hand."), { error: true });
  }
}

// Dates in the page's language: "3 min ago" / "3 мин назад", and the exact time on hover.
const relative = new Intl.RelativeTimeFormat(language, { numeric: "auto", style: "short" });
const exact = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "medium" });
const day = new Intl.DateTimeFormat(language, { dateStyle: "medium" });

export function timeAgo(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return gettext("just now");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return relative.format(Math.round(seconds / 86400), "day");
  return day.format(date);
}

// <time> with "3 min ago" and the exact time on hover; refreshed by refreshTimes().
export function timeElement(iso) {
  const date = new Date(iso);
  const node = el("time", { datetime: iso, title: exact.format(date) }, timeAgo(date));
  return node;
}

export function refreshTimes(root = document) {
  for (const node of root.querySelectorAll("time[datetime]")) {
    node.textContent = timeAgo(new Date(node.dateTime));
  }
}

export function logo(url, name, size = 40) {
  if (url) return el("img", { class: "logo", src: url, alt: "", width: size, height: size, loading: "lazy" });
  const letter = (name || "").trim().charAt(0).toUpperCase();
  if (!letter) return el("span", { class: "logo placeholder none", "aria-hidden": "true" });
  return el("span", { class: "logo placeholder", "aria-hidden": "true" }, letter);
}

export function verifiedBadge(verified) {
  return verified
    ? el("span", { class: "badge verified", title: gettext("Verified by the platform") }, gettext("✓ verified"))
    : null;
}

export function errorBox(text) {
  return el("p", { class: "error", role: "alert" }, text);
}

// A button that shows it is busy while its action runs, and cannot be pressed twice.
export function busy(button, action) {
  return async (event) => {
    if (event) event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action(event);
    } finally {
      button.disabled = false;
    }
  };
}
