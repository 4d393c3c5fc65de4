// The web app's entry: sign-in state, the hash router, the service worker and its messages.
import { session, whenRevoked } from "./api.js";
import * as blocked from "./blocked.js";
import * as channels from "./channels.js";
import * as inbox from "./inbox.js";
import * as notify from "./notify.js";
import * as settings from "./settings.js";
import { gettext, language } from "./i18n.js";
import { banner, el, show, toast } from "./ui.js";
import * as welcome from "./welcome.js";

const nav = document.getElementById("nav");

function signedOut(notice) {
  inbox.reset();
  session.clear();
  nav.hidden = true;
  if (location.hash && !location.hash.startsWith("#link=")) history.replaceState(null, "", location.pathname);
  welcome.screen({ onSignedIn: signedIn, notice });
}

function signedIn() {
  nav.hidden = false;
  if (location.hash !== "#/inbox") location.hash = "#/inbox";
  else route();
}

whenRevoked(() => signedOut(gettext("This browser was signed out: the inbox was deleted or its access was revoked. Create a new inbox or link this browser again.")));

async function route() {
  const hash = location.hash || "#/inbox";
  if (hash.startsWith("#link=")) {
    const code = decodeURIComponent(hash.slice("#link=".length));
    history.replaceState(null, "", location.pathname);
    const signedInBefore = Boolean(session.accessToken);
    const back = () => (signedInBefore ? route() : signedOut());
    nav.hidden = true;
    show(el("h1", {}, gettext("Checking the link…")));
    return welcome.linkFromUrl(code, {
      onSignedIn: signedIn,
      onCancel: back,
      onFailed: (text) => {
        if (!signedInBefore) return signedOut(text);
        toast(text, { error: true });
        return route();
      },
      // Confirmed: the inbox shown until now leaves this browser only now (it is not deleted).
      replacing: signedInBefore ? () => { inbox.reset(); session.clear(); } : null,
    });
  }
  if (!session.accessToken) return signedOut();
  nav.hidden = false;
  const [, name, arg] = hash.split("/");
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.screen === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  inbox.start(); // live updates and the unread count on every screen
  if (name === "channels" && arg) return channels.detailScreen(decodeURIComponent(arg));
  if (name === "channels") return channels.listScreen();
  if (name === "blocked") return blocked.screen();
  if (name === "settings") {
    return settings.screen({ beforeDelete: () => inbox.reset(), onDeleted: () => signedOut(), onFailed: () => route() });
  }
  if (name === "inbox" && arg) inbox.focusMessage(Number(arg));
  if (name === "inbox" && arg && hash.split("/")[3] === "ack") await inbox.acknowledge(Number(arg));
  if (name === "inbox" && arg && hash.split("/")[3] === "action") {
    const id = decodeURIComponent(hash.split("/")[4] || "");
    await inbox.pressAction(Number(arg), { id, label: id });
  }
  return inbox.screen();
}

window.addEventListener("hashchange", route);
const OFFLINE = gettext("You are offline. New messages will show when the connection is back.");
window.addEventListener("offline", () => banner(OFFLINE));
window.addEventListener("online", () => banner(""));

if ("serviceWorker" in navigator) {
  // The worker speaks the page's language: another language is another script URL, so the browser installs it
  // (and it keeps the shell afresh in that language).
  // A new version's worker installs now; it takes over once settled, asked again if it keeps waiting.
  navigator.serviceWorker.register(`/sw.js?lang=${encodeURIComponent(language)}`, { scope: "/" })
    .then(() => notify.workerSettled(60_000)).catch(() => {});
  navigator.serviceWorker.addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.type === "push" && data.message) {
      // The page is in front: the inbox shows the message live, so only a quiet hint instead of a notification.
      const { channel, title, message } = data.message;
      toast(`${channel.name}: ${title ? `${title} · ` : ""}${message}`);
    } else if (data.type === "ack" && data.id) {
      inbox.acknowledge(Number(data.id)); // the notification's "Acknowledge" action
    } else if (data.type === "action" && data.id && data.action) {
      inbox.pressAction(Number(data.id), data.action); // a callback button of the notification
    } else if (data.type === "open" && data.id) {
      location.hash = `#/inbox/${data.id}`;
    }
  });
}

if (!navigator.onLine) banner(OFFLINE);
document.getElementById("loading")?.remove();
route();
