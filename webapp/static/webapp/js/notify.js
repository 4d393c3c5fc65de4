// Web Push: the notifications switch. On = permission, a subscription with the server's VAPID key,
// registered as a device of the account; off = unsubscribe and delete that device. And the service worker's
// hand-over to a new one.
import { api, explain } from "./api.js";
import { gettext, interpolate } from "./i18n.js";

const DEVICE_KEY = "kp.webpush_device";

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

// Resolves once no service worker is installing or waiting to take over, or after `limitMs`. A new worker (a
// new version, another language) calls skipWaiting() once installed, yet Chromium sometimes leaves it waiting
// for good (when the old worker was started again for an event meanwhile), and a reload while it waits hangs.
// So the page waits, and asks the waiting worker to skip waiting again (sw.js).
export async function workerSettled(limitMs = 5000) {
  const registration = "serviceWorker" in navigator
    ? await navigator.serviceWorker.getRegistration().catch(() => null)
    : null;
  const deadline = Date.now() + limitMs;
  while (registration && (registration.installing || registration.waiting) && Date.now() < deadline) {
    registration.waiting?.postMessage({ type: "skip-waiting" });
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
}

export function deviceId() {
  return localStorage.getItem(DEVICE_KEY);
}

function keyBytes(base64url) {
  const base64 = base64url.replaceAll("-", "+").replaceAll("_", "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (ch) => ch.charCodeAt(0));
}

function label() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom/.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  // The label is stored with the device and shown on every device of the account: in the language chosen here.
  return os ? interpolate(gettext("%(browser)s on %(os)s"), { browser, os }) : browser;
}

export async function enabled() {
  if (!supported() || !deviceId() || Notification.permission !== "granted") return false;
  const registration = await navigator.serviceWorker.ready;
  return Boolean(await registration.pushManager.getSubscription());
}

export async function enable() {
  if (!supported()) throw new Error(gettext("This browser cannot show push notifications."));
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error(permission === "denied"
      ? gettext("Notifications are blocked for this site. Allow them in the browser's site settings, then try again.")
      : gettext("Notifications were not allowed."));
  }
  const registration = await navigator.serviceWorker.ready;
  const { public_key: key } = await api.webpushKey();
  let subscription = await registration.pushManager.getSubscription();
  if (subscription) {
    // A subscription made with another server key cannot be used; start over.
    const old = subscription.options && subscription.options.applicationServerKey;
    if (old && new Uint8Array(old).join() !== keyBytes(key).join()) {
      await subscription.unsubscribe();
      subscription = null;
    }
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  }
  const device = await api.addDevice({ platform: "web", subscription: subscription.toJSON(), label: label() });
  localStorage.setItem(DEVICE_KEY, String(device.id));
  return device;
}

export async function disable() {
  const id = deviceId();
  if (supported()) {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) await subscription.unsubscribe();
  }
  if (id) {
    try {
      await api.removeDevice(id);
    } catch (error) {
      if (error.status !== 4004) throw error;
    }
  }
  localStorage.removeItem(DEVICE_KEY);
}

export function explainPush(error) {
  return error && error.status !== undefined ? explain(error) : (error && error.message) || String(error);
}
