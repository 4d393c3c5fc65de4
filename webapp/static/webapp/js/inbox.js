// The inbox screen: newest first, endless scroll, read/delete/block, live updates and the unread count.
import { api, explain } from "./api.js";
import { gettext, interpolate } from "./i18n.js";
import { Live } from "./live.js";
import { banner, busy, confirmDialog, el, errorBox, logo, refreshTimes, show, timeElement, toast, verifiedBadge } from "./ui.js";

const PAGE = 30;

const state = {
  items: new Map(), // id -> {item, node}
  newest: 0,
  oldest: null,
  complete: false,
  loading: null,
  unread: 0,
  list: null,
  sentinel: null,
  observer: null,
  live: null,
  focusId: null,
  pendingFocus: null, // a message asked for before it arrived (a push is quicker than the live updates)
  // Acknowledged here: a copy of the message that left the server before the acknowledgement (the live
  // stream's, a page read meanwhile) still says it is not, and must not bring its button back.
  acknowledged: new Set(),
};

export function lastId() {
  return state.newest;
}

export function reset() {
  if (state.live) state.live.stop();
  document.getElementById("live-state")?.removeAttribute("data-mode"); // the indicator is in the nav, on every screen
  clearTimeout(unreadTimer);
  if (state.observer) state.observer.disconnect();
  Object.assign(state, {
    items: new Map(), newest: 0, oldest: null, complete: false, loading: null, unread: 0,
    list: null, sentinel: null, observer: null, live: null, focusId: null, pendingFocus: null,
    acknowledged: new Set(),
  });
  setUnread(0);
}

function setUnread(count) {
  state.unread = Math.max(0, count);
  document.title = state.unread ? `(${state.unread}) KILO.Push` : "KILO.Push";
  const badge = document.getElementById("nav-unread");
  if (badge) {
    badge.textContent = String(state.unread);
    badge.hidden = state.unread === 0;
  }
  if ("setAppBadge" in navigator) {
    (state.unread ? navigator.setAppBadge(state.unread) : navigator.clearAppBadge()).catch(() => {});
  }
}

let unreadTimer = null;
// The server's count is the truth (other devices read too); local changes only show it sooner.
export function refreshUnread() {
  clearTimeout(unreadTimer);
  unreadTimer = setTimeout(async () => {
    try {
      setUnread((await api.me()).unread);
    } catch {
      /* offline: keep the last count */
    }
  }, 250);
}

function importance(important, priority) {
  if (priority === 2) return el("span", { class: "badge important emergency" }, gettext("Emergency"));
  if (priority === -1) return el("span", { class: "badge silent" }, gettext("Quiet"));
  if (important === true) return el("span", { class: "badge important" }, gettext("Important"));
  if (important === false) return el("span", { class: "badge silent" }, gettext("Silent"));
  return null;
}

function safeLink(url) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") return parsed.href;
  } catch {
    /* not a URL */
  }
  return null;
}

// --- rich messages (issue 25): an image and Markdown

// A Markdown message's `html` was sanitised on the server (messaging/markdown.py). It is parsed inert by
// DOMParser (no script runs, nothing loads) and copied element by element from the same allow-list, so no
// markup is ever assigned as HTML and the strict CSP needs nothing new.
const RICH_TAGS = new Set(["P", "BR", "EM", "STRONG", "CODE", "PRE", "UL", "OL", "LI", "BLOCKQUOTE", "A"]);

function richLink(href) {
  if (href && /^mailto:/i.test(href)) return href;
  return href ? safeLink(href) : null;
}

function copyRich(from, to) {
  for (const child of from.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      to.append(child.textContent);
    } else if (child.nodeType === Node.ELEMENT_NODE && !RICH_TAGS.has(child.tagName)) {
      copyRich(child, to); // not in the allow-list: its words only
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      const href = child.tagName === "A" ? richLink(child.getAttribute("href")) : null;
      const node = child.tagName !== "A" ? el(child.tagName.toLowerCase())
        : href ? el("a", { href, rel: "noopener noreferrer", target: "_blank" }) : el("span");
      copyRich(child, node);
      to.append(node);
    }
  }
  return to;
}

function messageBody(item) {
  if (item.format !== "markdown" || typeof item.html !== "string") return el("p", { class: "text" }, item.message);
  const parsed = new DOMParser().parseFromString(item.html, "text/html");
  return copyRich(parsed.body, el("div", { class: "text rich" }));
}

// An uploaded image is a thumbnail that opens full size; a link the sender gave is only a link (the page
// loads nothing from other sites, and the CSP would not let it).
function attachmentView(attachment) {
  const href = attachment && attachment.url ? safeLink(attachment.url) : null;
  if (!href) return null;
  if (!attachment.content_type) {
    return el("a", { class: "link attachment-link", href, rel: "noopener noreferrer", target: "_blank" },
      interpolate(gettext("Image: %(host)s"), { host: new URL(href).host }));
  }
  const image = el("img", { class: "thumb", src: href, alt: gettext("Attached image"), loading: "lazy", decoding: "async",
    width: attachment.width, height: attachment.height });
  return el("a", { class: "attachment", href, rel: "noopener noreferrer", target: "_blank",
    title: gettext("Open the image full size") }, image);
}

// What a screen reader says for an item: the channel (the source) and the sender's title, if any.
function itemLabel(item) {
  const source = `${item.channel.name}${item.title ? `: ${item.title}` : ""}`;
  return item.read ? source : interpolate(gettext("Unread. %(source)s"), { source });
}

function renderItem(item) {
  const href = item.url ? safeLink(item.url) : null;
  const actions = el("div", { class: "actions" });
  const node = el(
    "article",
    {
      class: "msg" + (item.read ? "" : " unread") + (item.important ? " important" : ""),
      id: `m-${item.id}`,
      tabindex: "0",
      "aria-label": itemLabel(item),
      dataset: { id: item.id },
    },
    logo(item.channel.logo_url, item.channel.name),
    el(
      "div",
      { class: "msg-body" },
      el(
        "div",
        { class: "msg-head" },
        el("strong", { class: "channel-name" }, item.channel.name),
        verifiedBadge(item.channel.verified),
        importance(item.important, item.priority),
        el("span", { class: "unread-dot", title: gettext("Unread"), "aria-hidden": "true" }),
        timeElement(item.created_at),
      ),
      item.title ? el("p", { class: "title" }, item.title) : null,
      messageBody(item),
      attachmentView(item.attachment),
      href ? el("a", { class: "link", href, rel: "noopener noreferrer", target: "_blank" }, item.url) : null,
      actions,
    ),
  );
  const readButton = el("button", { type: "button", class: "small mark-read" }, gettext("Mark read"));
  readButton.addEventListener("click", busy(readButton, () => markRead(item.id)));
  const deleteButton = el("button", { type: "button", class: "small delete" }, gettext("Delete"));
  deleteButton.addEventListener("click", busy(deleteButton, () => removeMessage(item.id)));
  const blockButton = el("button", { type: "button", class: "small block" }, gettext("Block channel"));
  blockButton.addEventListener("click", busy(blockButton, () => blockChannel(item.channel)));
  actions.append(readButton, deleteButton);
  if (!item.from_own_channel) actions.append(blockButton); // one's own channel is not blocked, it is deleted
  if (item.priority === 2 && !item.acknowledged) actions.prepend(ackButton(item.id));
  if (item.actions && item.actions.length) actions.before(senderActions(item));
  node.addEventListener("click", (event) => {
    if (event.target.closest("button, a")) return;
    open(item.id);
  });
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target === node) open(item.id);
  });
  return node;
}

function open(id) {
  const entry = state.items.get(id);
  if (!entry) return;
  entry.node.classList.add("open");
  if (!entry.item.read) markRead(id);
}

function setRead(id) {
  const entry = state.items.get(id);
  if (!entry || entry.item.read) return false;
  entry.item.read = true;
  entry.node.classList.remove("unread");
  entry.node.setAttribute("aria-label", itemLabel(entry.item));
  return true;
}

// A message read, acknowledged or deleted (here or on another device) no longer waits in this device's notifications.
function closeNotifications(matches) {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.getRegistration()
    .then((registration) => (registration ? registration.getNotifications() : []))
    .then((shown) => shown.forEach((notification) => matches(Number(notification.tag)) && notification.close()))
    .catch(() => {});
}

// What a page of the inbox, as the server gave it (newest first; `whole`: nothing older exists), tells of the ids
// from its last up to `top` (the newest id it speaks for): read, or gone (deleted, withdrawn or replaced on another
// device). An id above `top` is of a message that arrived after the page was asked for, and is not judged.
function pageOf(messages, whole, top) {
  const seen = new Set(messages.map((item) => item.id));
  const floor = whole ? 0 : messages[messages.length - 1].id;
  return {
    read: new Set(messages.filter((item) => item.read).map((item) => item.id)),
    gone: (id) => id >= floor && id <= top && !seen.has(id),
  };
}

// The notifications a page settles: of its messages read elsewhere, and of those gone.
function closeSettled(page) {
  closeNotifications((tag) => page.read.has(tag) || page.gone(tag));
}

// Acknowledged on this device or another: no button any more, and it is read (its notification is the caller's:
// reconcile() closes every read one at once).
function setAcknowledged(id) {
  state.acknowledged.add(id);
  const entry = state.items.get(id);
  if (entry) {
    entry.item.acknowledged = true;
    entry.node.querySelector(".acknowledge")?.remove();
  }
  if (setRead(id)) setUnread(state.unread - 1);
}

async function markRead(id) {
  try {
    await api.markRead(id);
    if (setRead(id)) setUnread(state.unread - 1);
    closeNotifications((tag) => tag === id); // the stream's `read` does it too; polling has none
  } catch (error) {
    toast(explain(error), { error: true });
  }
  refreshUnread();
}

// The sender's buttons (issue 24): a view opens its URL, a callback tells the sender (its webhook).
function senderActions(item) {
  const row = el("div", { class: "sender-actions" });
  for (const action of item.actions) {
    if (action.type === "view") {
      const href = safeLink(action.url);
      if (href) row.append(el("a", { class: "button small action-view", href, rel: "noopener noreferrer", target: "_blank" }, action.label));
    } else if (action.type === "callback") {
      const button = el("button", { type: "button", class: "small action-callback" }, action.label);
      button.addEventListener("click", busy(button, () => pressAction(item.id, action)));
      row.append(button);
    }
  }
  return row;
}

export async function pressAction(id, action) {
  try {
    await api.pressAction(id, action.id);
    toast(interpolate(gettext("Sent: %(label)s"), { label: action.label }));
  } catch (error) {
    toast(explain(error), { error: true });
  }
}

function ackButton(id) {
  const button = el("button", { type: "button", class: "small primary acknowledge" }, gettext("Acknowledge"));
  button.addEventListener("click", busy(button, () => acknowledge(id)));
  return button;
}

// An emergency's repeats stop on every device once acknowledged (POST /v1/app/messages/ID/ack).
export async function acknowledge(id) {
  try {
    await api.acknowledge(id);
  } catch (error) {
    toast(explain(error), { error: true });
    return;
  }
  acknowledgedHere(id);
}

// An acknowledgement this page made or heard of: the message's button goes, its notification closes.
function acknowledgedHere(id) {
  setAcknowledged(id);
  closeNotifications((tag) => tag === id);
  refreshUnread();
}

async function markAllRead() {
  if (!state.newest) return;
  try {
    await api.markAllRead(state.newest);
    for (const id of state.items.keys()) if (id <= state.newest) setRead(id);
    const upTo = state.newest;
    closeNotifications((tag) => tag <= upTo);
    setUnread(0);
  } catch (error) {
    toast(explain(error), { error: true });
  }
  refreshUnread();
}

function drop(id) {
  closeNotifications((tag) => tag === id);
  const entry = state.items.get(id);
  if (!entry) return;
  entry.node.remove();
  state.items.delete(id);
  if (!entry.item.read) setUnread(state.unread - 1);
  updateEmpty();
}

async function removeMessage(id) {
  try {
    await api.deleteMessage(id);
  } catch (error) {
    if (error.status !== 4004) {
      toast(explain(error), { error: true });
      return;
    }
  }
  drop(id);
  toast(gettext("Message deleted."));
  refreshUnread();
}

async function blockChannel(channel) {
  const ok = await confirmDialog({
    title: interpolate(gettext("Block “%(name)s”?"), { name: channel.name }),
    text: gettext("Its messages will be refused from now on. You can unblock it under Blocked."),
    ok: gettext("Block"),
  });
  if (!ok) return;
  try {
    await api.block(channel.token);
    toast(interpolate(gettext("%(name)s is blocked."), { name: channel.name }));
  } catch (error) {
    toast(explain(error), { error: true });
  }
}

// Puts an item in its place (ids are newest first); an id already shown is never shown twice.
function insert(item) {
  if (state.items.has(item.id)) return false;
  if (state.acknowledged.has(item.id)) Object.assign(item, { acknowledged: true, read: true });
  const node = renderItem(item);
  state.items.set(item.id, { item, node });
  let before = null;
  for (const child of state.list.children) {
    if (Number(child.dataset.id) < item.id) {
      before = child;
      break;
    }
  }
  state.list.insertBefore(node, before);
  state.newest = Math.max(state.newest, item.id);
  if (state.oldest === null || item.id < state.oldest) state.oldest = item.id;
  updateEmpty();
  return true;
}

function updateEmpty() {
  const empty = document.getElementById("inbox-empty");
  if (empty) empty.hidden = state.items.size > 0 || !state.complete;
}

async function loadMore() {
  if (state.loading || state.complete) return state.loading;
  state.loading = (async () => {
    try {
      const query = { limit: PAGE };
      if (state.oldest !== null) query.before = state.oldest;
      const { messages } = await api.messages(query);
      for (const item of messages) insert(item);
      if (messages.length < PAGE) state.complete = true;
      // Read or gone on another device while no page of ours was open: an older page speaks for the ids below
      // `before`, the first one for those up to its newest.
      const top = query.before ? query.before - 1 : (messages[0]?.id ?? 0);
      closeSettled(pageOf(messages, state.complete, top));
      updateEmpty();
      const status = document.getElementById("inbox-status");
      if (status) status.textContent = state.complete ? (state.items.size ? gettext("That is all.") : "") : "";
    } catch (error) {
      const status = document.getElementById("inbox-status");
      if (status) status.textContent = explain(error);
    } finally {
      state.loading = null;
    }
  })();
  return state.loading;
}

// Re-reads the newest page: read and deleted states may have changed on another device while we were away.
async function reconcile() {
  try {
    const known = state.newest; // before asking: a message the stream shows meanwhile is above it, and stays
    const { messages } = await api.messages({ limit: 100 });
    // A short page is the whole inbox; a full one tells only about ids down to its last.
    const page = pageOf(messages, messages.length < 100, Math.max(known, messages[0]?.id ?? 0));
    for (const item of messages) {
      if (insert(item)) continue;
      if (item.acknowledged) setAcknowledged(item.id);
      else if (item.read) setRead(item.id);
    }
    closeSettled(page);
    for (const id of [...state.items.keys()]) {
      if (page.gone(id)) drop(id);
    }
  } catch {
    /* the next reconnect tries again */
  }
  refreshUnread();
}

async function reload() {
  const keepList = state.list;
  for (const { node } of state.items.values()) node.remove();
  state.items.clear();
  Object.assign(state, { newest: 0, oldest: null, complete: false });
  state.list = keepList;
  await loadMore();
  refreshUnread();
}

function liveHandlers() {
  return {
    lastId: () => state.newest,
    message(item) {
      if (insert(item)) {
        if (!item.read) setUnread(state.unread + 1);
        refreshUnread();
        if (item.id === state.pendingFocus) focus(item.id);
      }
    },
    read(data) {
      const ids = Array.isArray(data.ids) ? data.ids.map(Number) : [];
      for (const id of ids) setRead(id);
      if (data.up_to) for (const id of state.items.keys()) if (id <= data.up_to) setRead(id);
      closeNotifications((tag) => ids.includes(tag) || tag <= (data.up_to || 0));
      refreshUnread();
    },
    acknowledged: (data) => acknowledgedHere(Number(data.id)),
    deleted(data) {
      drop(Number(data.id));
      refreshUnread();
    },
    reset: () => reload(),
    reconcile,
    state(mode) {
      banner(mode === "offline" ? gettext("You are offline. New messages will show when the connection is back.") : "");
      const node = document.getElementById("live-state");
      if (node) {
        node.textContent = mode === "live" ? gettext("Live") : mode === "polling" ? gettext("Updating") : gettext("Offline");
      }
      if (node) node.dataset.mode = mode;
    },
  };
}

// Starts the inbox's data (first page, live updates) once per sign-in, whatever screen is shown first.
export async function start() {
  if (state.list) return;
  state.list = el("div", { class: "messages", id: "messages", role: "feed", "aria-busy": "false" });
  state.sentinel = el("div", { class: "sentinel", "aria-hidden": "true" });
  await loadMore();
  refreshUnread();
  state.live = new Live(liveHandlers());
  state.live.start();
  setInterval(() => refreshTimes(state.list), 30000);
}

export function focusMessage(id) {
  state.focusId = id;
}

export async function screen() {
  await start();
  const markAll = el("button", { type: "button", id: "mark-all" }, gettext("Mark all read"));
  markAll.addEventListener("click", busy(markAll, markAllRead));
  const empty = el(
    "div",
    { id: "inbox-empty", class: "panel empty", hidden: true },
    el("h2", {}, gettext("No messages yet")),
    el("p", {}, gettext("Create a channel, then send to your User Token with its secret. Open a channel to find "
      + "ready-to-paste examples, or send yourself a test message.")),
    el("a", { href: "#/channels", class: "button" }, gettext("Go to channels")),
  );
  show(
    el(
      "div",
      { class: "screen-head" },
      el("h1", {}, gettext("Inbox")),
      el("div", { class: "spacer" }),
      markAll,
    ),
    empty,
    state.list,
    state.sentinel,
    el("p", { id: "inbox-status", class: "muted center", "aria-live": "polite" }),
  );
  updateEmpty();
  refreshTimes(state.list);
  if (state.observer) state.observer.disconnect();
  state.observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }, { rootMargin: "400px" });
  state.observer.observe(state.sentinel);
  if (state.focusId) {
    const id = state.focusId;
    state.focusId = null;
    for (let page = 0; page < 10 && !state.items.has(id) && !state.complete && (state.oldest ?? 0) > id; page += 1) {
      await loadMore();
    }
    if (state.items.has(id)) focus(id);
    else if (id > state.newest) state.pendingFocus = id; // not here yet: shown when the live updates bring it
    else toast(gettext("That message is no longer in your inbox."));
  }
}

function focus(id) {
  const entry = state.items.get(id);
  state.pendingFocus = null;
  entry.node.scrollIntoView({ block: "center" });
  entry.node.focus({ preventScroll: true });
  open(id);
}

export function showError(error) {
  show(el("h1", {}, gettext("Inbox")), errorBox(explain(error)));
}
