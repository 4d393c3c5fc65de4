// KILO.Push service worker (served at /sw.js; VERSION, LANGUAGE and SHELL are prepended by the server, and
// the catalog of LANGUAGE is imported: gettext() is Django's, as in the page).
// It keeps the app shell for offline use and shows Web Push messages as notifications.
/* global VERSION, LANGUAGE, SHELL, gettext */

const CACHE = `kp-shell-${VERSION}`;
const ICON = SHELL.find((path) => path.endsWith("/icon-192.png"));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

// The page asks again when this worker, installed, still waits to take over (notify.js, workerSettled).
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("kp-shell-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/") {
    // The page: fresh from the network when online, the kept shell when not (else a page saying so).
    event.respondWith(fetch(request).catch(async () => (await caches.match("/", { cacheName: CACHE })) || offlinePage()));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((hit) => hit || fetch(request)));
  }
  // The API and logos always go to the network.
});

const escapeHtml = (text) => text.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);

// Offline before the shell was ever kept: a page of our own, in the worker's language.
function offlinePage() {
  const css = SHELL.find((path) => path.endsWith("/app.css"));
  const html = `<!doctype html><html lang="${escapeHtml(LANGUAGE)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>KILO.Push</title>
<link rel="stylesheet" href="${escapeHtml(css)}"></head><body><main id="main" class="offline">
<h1>${escapeHtml(gettext("You are offline"))}</h1>
<p>${escapeHtml(gettext("KILO.Push cannot be reached right now. Your inbox shows again once the connection is back."))}</p>
<p><a class="button" href="/">${escapeHtml(gettext("Try again"))}</a></p></main></body></html>`;
  return new Response(html, {
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'",
    },
  });
}

async function focusedClient() {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  return windows.find((client) => client.focused && client.visibilityState === "visible") || null;
}

self.addEventListener("push", (event) => {
  let message;
  try {
    message = event.data.json();
  } catch {
    return;
  }
  if (message.type === "withdraw" || message.type === "dismiss") {
    // The sender took the message back (POST /v1/messages/withdraw), or it was acknowledged on some device:
    // its notification goes.
    event.waitUntil((async () => {
      const shown = await self.registration.getNotifications({ tag: String(message.message_id) });
      shown.forEach((notification) => notification.close());
    })());
    return;
  }
  event.waitUntil((async () => {
    if (typeof message.unread === "number" && "setAppBadge" in self.navigator) {
      await (message.unread ? self.navigator.setAppBadge(message.unread) : self.navigator.clearAppBadge()).catch(() => {});
    }
    const client = await focusedClient();
    if (client) {
      // The person is looking at the page, which shows the message live: no second copy as a notification.
      client.postMessage({ type: "push", message });
      return;
    }
    const channel = message.channel || {};
    const text = message.message || "";
    // With the sender's title as the title, the body starts with the channel's name: the source stays in sight.
    const title = message.title || channel.name || "KILO.Push";
    const body = message.title && channel.name ? `${channel.name}: ${text}` : text;
    await self.registration.showNotification(title, {
      body,
      icon: channel.logo_url || ICON,
      badge: ICON,
      ...(typeof message.image === "string" && /^https?:\/\//.test(message.image) ? { image: message.image } : {}),
      tag: String(message.id),
      requireInteraction: message.important === true || message.important === 1,
      silent: message.priority === -1, // quiet: no sound, no vibration
      timestamp: message.created_at ? Date.parse(message.created_at) : Date.now(),
      data: { id: message.id, url: message.url || null, actions: message.actions || [] },
      ...(message.priority === 2 ? EMERGENCY : {}),
      actions: notificationActions(message),
    });
  })());
});

// An emergency stays until answered, alerts again on each repeat, and offers "Acknowledge".
const EMERGENCY = { requireInteraction: true, renotify: true, actions: [{ action: "ack", title: gettext("Acknowledge") }] };

// The browser shows at most Notification.maxActions (2 in Chromium): Acknowledge first, then the sender's.
function notificationActions(message) {
  const own = (message.actions || []).map((action, index) => ({ action: `a:${index}`, title: action.label }));
  const all = [...(message.priority === 2 ? EMERGENCY.actions : []), ...own];
  return all.slice(0, self.Notification?.maxActions || 2);
}

async function pressFromNotification(id, action) {
  if (action.type === "view") {
    await self.clients.openWindow(action.url);
    return;
  }
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const page = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (page) {
    page.postMessage({ type: "action", id, action });
    return;
  }
  await self.clients.openWindow(`/#/inbox/${id}/action/${encodeURIComponent(action.id)}`);
}

async function acknowledgeFromNotification(id) {
  // The access token lives in the page: an open page acknowledges, else a new one opens to do it.
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const page = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (page) {
    page.postMessage({ type: "ack", id });
    return;
  }
  await self.clients.openWindow(`/#/inbox/${id}/ack`);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { id, url } = event.notification.data || {};
  if (event.action === "ack") {
    event.waitUntil(acknowledgeFromNotification(id));
    return;
  }
  const pressed = event.action.startsWith("a:") ? (event.notification.data?.actions || [])[Number(event.action.slice(2))] : null;
  if (pressed) {
    event.waitUntil(pressFromNotification(id, pressed));
    return;
  }
  event.waitUntil((async () => {
    if (url) {
      await self.clients.openWindow(url);
      return;
    }
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const page = windows.find((client) => new URL(client.url).origin === self.location.origin);
    if (page) {
      await page.focus();
      page.postMessage({ type: "open", id });
      return;
    }
    await self.clients.openWindow(`/#/inbox/${id}`);
  })());
});
