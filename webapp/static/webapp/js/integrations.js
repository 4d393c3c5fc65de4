// A channel's "Integrations": its send keys (create, list, revoke) and ready-to-paste settings for other tools.
// A new key lives only in this screen's memory: the server shows it once, and so does the page.
import { api, explain, session } from "./api.js";
import { gettext, interpolate, language } from "./i18n.js";
import { busy, confirmDialog, copy, el, timeElement, toast } from "./ui.js";
import { integrations, KEY_PLACEHOLDER } from "./snippets.js";

function shortToken(token) {
  return token.length > 14 ? `${token.slice(0, 8)}…${token.slice(-4)}` : token;
}

function explainCreate(error) {
  if (error.status === 4005 && /^to:/.test(error.message)) return gettext("No inbox has that User Token: check it (it starts with u_).");
  if (error.status === 4003) { // the keys' limit, "At most 20 keys per channel"
    const reason = language === "en" ? error.message : gettext("This channel has as many keys as it may have");
    return interpolate(gettext("%(reason)s: revoke one you no longer use first."), { reason });
  }
  return explain(error);
}

export function integrationsSection(channel) {
  let fresh = null; // {id, key} of the key created on this screen, until it is revoked or the page left

  // --- create
  const label = el("input", { id: "key-label", maxlength: "64", autocomplete: "off", placeholder: gettext("e.g. Backup server") });
  const to = el("input", {
    id: "key-to", maxlength: "42", autocomplete: "off", spellcheck: "false",
    placeholder: gettext("Your own inbox"), "aria-describedby": "key-to-help",
  });
  const create = el("button", { type: "submit", id: "create-key" }, gettext("Create key"));
  const status = el("p", { class: "form-status", id: "key-status", role: "status" });
  const form = el("form", { id: "key-form", class: "key-form" },
    el("div", { class: "fields" },
      el("div", {}, el("label", { for: "key-label" }, gettext("Label (optional)")), label),
      el("div", {}, el("label", { for: "key-to" }, gettext("Sends to (optional)")), to,
        el("p", { class: "hint muted", id: "key-to-help" }, gettext("Someone's User Token; empty: you.")))),
    el("div", { class: "actions" }, create), status);

  // --- the new key, once
  const newKey = el("div", { id: "new-key", class: "new-key", hidden: true, role: "region", "aria-label": gettext("Your new send key") });

  // --- list
  const list = el("ul", { class: "devices keys-list", id: "key-list" });

  // --- settings for tools
  const toolSelect = el("select", { id: "tool" },
    Object.keys(integrations).map((name) => el("option", { value: name }, name)));
  const pre = el("pre", { class: "snippet wrap", id: "integration-snippet", tabindex: "0" });
  const keyNote = el("p", { class: "muted hint", id: "integration-note" });
  const copySnippet = el("button", { type: "button", id: "copy-integration" }, gettext("Copy"));
  function renderSnippet() {
    const key = fresh ? fresh.key : KEY_PLACEHOLDER;
    pre.textContent = integrations[toolSelect.value]({ key, origin: location.origin });
    keyNote.replaceChildren(...(fresh
      ? [gettext("Filled in with your new key.")]
      : withCode(gettext("Put one of your keys in place of %(token)s: create one above."), el("code", {}, KEY_PLACEHOLDER))));
  }
  toolSelect.addEventListener("change", renderSnippet);
  copySnippet.addEventListener("click", () => copy(pre.textContent, gettext("Settings copied.")));

  function showNewKey(created) {
    const copyKey = el("button", { type: "button", id: "copy-key", class: "small" }, gettext("Copy"));
    copyKey.addEventListener("click", () => copy(created.key, gettext("Key copied.")));
    newKey.replaceChildren(
      el("strong", {}, created.label ? interpolate(gettext("New key “%(label)s”"), { label: created.label }) : gettext("New key")),
      el("p", { class: "token-line" }, el("code", { id: "new-key-value" }, created.key), copyKey),
      el("p", { class: "warn-note" }, gettext("Shown only now: copy it and keep it like a password. "
        + "It cannot be shown again; if it is lost, revoke it and create another.")),
    );
    newKey.hidden = false;
  }

  async function load() {
    let keys;
    try {
      ({ keys } = await api.sendKeys(channel.token));
    } catch (error) {
      list.replaceChildren(el("li", { class: "muted" }, explain(error)));
      return;
    }
    list.replaceChildren();
    if (!keys.length) list.append(el("li", { class: "muted", id: "no-keys" }, gettext("No keys yet.")));
    for (const key of keys) list.append(keyRow(key));
  }

  function keyRow(key) {
    const revoke = el("button", { type: "button", class: "small danger revoke-key" }, gettext("Revoke"));
    revoke.addEventListener("click", busy(revoke, async () => {
      const ok = await confirmDialog({
        title: key.label ? interpolate(gettext("Revoke “%(label)s”?"), { label: key.label }) : gettext("Revoke this key?"),
        text: gettext("Every tool that sends with it gets an error from now on. This cannot be undone."),
        ok: gettext("Revoke"),
      });
      if (!ok) return;
      try {
        await api.revokeSendKey(channel.token, key.id);
        toast(gettext("Key revoked."));
      } catch (error) {
        if (error.status !== 4004) {
          toast(explain(error), { error: true });
          return;
        }
      }
      if (fresh && fresh.id === key.id) {
        fresh = null;
        newKey.hidden = true;
        newKey.replaceChildren();
        renderSnippet();
      }
      load();
    }));
    const recipient = key.to === session.userToken
      ? gettext("to you")
      : el("span", {}, ...withCode(gettext("to %(token)s"), el("code", { title: key.to }, shortToken(key.to))));
    const used = key.last_used_at ? [gettext("last used"), " ", timeElement(key.last_used_at)] : [gettext("never used")];
    return el("li", { class: "device-row", dataset: { id: key.id } },
      el("span", { class: "grow" },
        el("strong", { class: "key-label" }, key.label || gettext("Unnamed key")), el("br"),
        el("span", { class: "muted" }, recipient, " · ", gettext("created"), " ", timeElement(key.created_at), " · ", ...used)),
      revoke);
  }

  form.addEventListener("submit", busy(create, async () => {
    const fields = {};
    if (label.value.trim()) fields.label = label.value.trim();
    if (to.value.trim()) fields.to = to.value.trim();
    status.textContent = gettext("Creating…");
    try {
      const created = await api.createSendKey(channel.token, fields);
      fresh = { id: created.id, key: created.key };
      status.textContent = "";
      label.value = "";
      to.value = "";
      showNewKey(created);
      renderSnippet();
      await load();
      newKey.scrollIntoView({ block: "nearest" });
    } catch (error) {
      status.textContent = explainCreate(error);
    }
  }));

  renderSnippet();
  load();
  return el("section", { class: "panel", id: "integrations" },
    el("h2", {}, gettext("Integrations")),
    el("p", { class: "muted" }, gettext("A send key is one secret string that sends as this channel to one inbox. "
      + "Tools that speak ntfy, Gotify or webhooks (Uptime Kuma, Home Assistant, Grafana, Alertmanager, …) use it.")),
    form,
    newKey,
    el("h3", {}, gettext("Keys")),
    list,
    el("h3", {}, gettext("Set up a tool")),
    el("label", { for: "tool" }, gettext("Tool")), toolSelect,
    keyNote,
    pre,
    el("div", { class: "actions" }, copySnippet));
}

// A translated phrase with a token in it, the token as <code>: the word order is the language's.
function withCode(phrase, code) {
  const [before, after] = phrase.split("%(token)s");
  return [before, code, after || ""];
}
