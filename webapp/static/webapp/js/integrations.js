// A channel's "Integrations": its send keys (create, list, revoke) and ready-to-paste settings for other tools.
// A new key lives only in this screen's memory: the server shows it once, and so does the page.
import { api, explain, session } from "./api.js";
import { busy, confirmDialog, copy, el, timeElement, toast } from "./ui.js";
import { integrations, KEY_PLACEHOLDER } from "./snippets.js";

function shortToken(token) {
  return token.length > 14 ? `${token.slice(0, 8)}…${token.slice(-4)}` : token;
}

function explainCreate(error) {
  if (error.status === 4005 && /^to:/.test(error.message)) return "No inbox has that User Token: check it (it starts with u_).";
  if (error.status === 4003) return `${error.message}: revoke one you no longer use first.`; // the keys' limit
  return explain(error);
}

export function integrationsSection(channel) {
  let fresh = null; // {id, key} of the key created on this screen, until it is revoked or the page left

  // --- create
  const label = el("input", { id: "key-label", maxlength: "64", autocomplete: "off", placeholder: "e.g. Backup server" });
  const to = el("input", {
    id: "key-to", maxlength: "42", autocomplete: "off", spellcheck: "false",
    placeholder: "Your own inbox", "aria-describedby": "key-to-help",
  });
  const create = el("button", { type: "submit", id: "create-key" }, "Create key");
  const status = el("p", { class: "form-status", id: "key-status", role: "status" });
  const form = el("form", { id: "key-form", class: "key-form" },
    el("div", { class: "fields" },
      el("div", {}, el("label", { for: "key-label" }, "Label (optional)"), label),
      el("div", {}, el("label", { for: "key-to" }, "Sends to (optional)"), to,
        el("p", { class: "hint muted", id: "key-to-help" }, "Someone's User Token; empty: you."))),
    el("div", { class: "actions" }, create), status);

  // --- the new key, once
  const newKey = el("div", { id: "new-key", class: "new-key", hidden: true, role: "region", "aria-label": "Your new send key" });

  // --- list
  const list = el("ul", { class: "devices keys-list", id: "key-list" });

  // --- settings for tools
  const toolSelect = el("select", { id: "tool" },
    Object.keys(integrations).map((name) => el("option", { value: name }, name)));
  const pre = el("pre", { class: "snippet wrap", id: "integration-snippet", tabindex: "0" });
  const keyNote = el("p", { class: "muted hint", id: "integration-note" });
  const copySnippet = el("button", { type: "button", id: "copy-integration" }, "Copy");
  function renderSnippet() {
    const key = fresh ? fresh.key : KEY_PLACEHOLDER;
    pre.textContent = integrations[toolSelect.value]({ key, origin: location.origin });
    keyNote.textContent = fresh
      ? "Filled in with your new key."
      : `Put one of your keys in place of ${KEY_PLACEHOLDER}: create one above.`;
  }
  toolSelect.addEventListener("change", renderSnippet);
  copySnippet.addEventListener("click", () => copy(pre.textContent, "Settings"));

  function showNewKey(created) {
    const copyKey = el("button", { type: "button", id: "copy-key", class: "small" }, "Copy");
    copyKey.addEventListener("click", () => copy(created.key, "Key"));
    newKey.replaceChildren(
      el("strong", {}, created.label ? `New key “${created.label}”` : "New key"),
      el("p", { class: "token-line" }, el("code", { id: "new-key-value" }, created.key), copyKey),
      el("p", { class: "warn-note" }, "Shown only now: copy it and keep it like a password. "
        + "It cannot be shown again; if it is lost, revoke it and create another."),
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
    if (!keys.length) list.append(el("li", { class: "muted", id: "no-keys" }, "No keys yet."));
    for (const key of keys) list.append(keyRow(key));
  }

  function keyRow(key) {
    const revoke = el("button", { type: "button", class: "small danger revoke-key" }, "Revoke");
    revoke.addEventListener("click", busy(revoke, async () => {
      const ok = await confirmDialog({
        title: `Revoke ${key.label ? `“${key.label}”` : "this key"}?`,
        text: "Every tool that sends with it gets an error from now on. This cannot be undone.",
        ok: "Revoke",
      });
      if (!ok) return;
      try {
        await api.revokeSendKey(channel.token, key.id);
        toast("Key revoked.");
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
      ? "to you"
      : el("span", {}, "to ", el("code", { title: key.to }, shortToken(key.to)));
    const used = key.last_used_at ? ["last used ", timeElement(key.last_used_at)] : ["never used"];
    return el("li", { class: "device-row", dataset: { id: key.id } },
      el("span", { class: "grow" },
        el("strong", { class: "key-label" }, key.label || "Unnamed key"), el("br"),
        el("span", { class: "muted" }, recipient, " · created ", timeElement(key.created_at), " · ", ...used)),
      revoke);
  }

  form.addEventListener("submit", busy(create, async () => {
    const fields = {};
    if (label.value.trim()) fields.label = label.value.trim();
    if (to.value.trim()) fields.to = to.value.trim();
    status.textContent = "Creating…";
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
    el("h2", {}, "Integrations"),
    el("p", { class: "muted" }, "A send key is one secret string that sends as this channel to one inbox. "
      + "Tools that speak ntfy, Gotify or webhooks (Uptime Kuma, Home Assistant, Grafana, Alertmanager, …) use it."),
    form,
    newKey,
    el("h3", {}, "Keys"),
    list,
    el("h3", {}, "Set up a tool"),
    el("label", { for: "tool" }, "Tool"), toolSelect,
    keyNote,
    pre,
    el("div", { class: "actions" }, copySnippet));
}
