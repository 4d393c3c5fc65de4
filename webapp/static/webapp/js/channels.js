// Channels: the list, creating one (name + logo with preview), and one channel's page.
import { api, explain, session } from "./api.js";
import { gettext, interpolate, ngettext, number } from "./i18n.js";
import { busy, confirmDialog, copy, el, errorBox, logo, show, toast, verifiedBadge } from "./ui.js";
import { integrationsSection } from "./integrations.js";
import { snippets, SECRET_PLACEHOLDER } from "./snippets.js";

function usage(channel) {
  const sent = number(channel.sent_today);
  if (channel.daily_limit === null) {
    return interpolate(ngettext("%(sent)s sent today · no daily limit", "%(sent)s sent today · no daily limit",
      channel.sent_today), { sent });
  }
  return interpolate(gettext("%(sent)s of %(limit)s sent today"), { sent, limit: number(channel.daily_limit) });
}

// A 4003 when creating: the channels' limit ("At most 5 channels per user"), not a wrong secret.
function explainCreate(error) {
  const limit = error.status === 4003 && (error.message.match(/At most (\d+)/) || [])[1];
  if (!limit) return explain(error);
  return interpolate(ngettext("You already have %(count)s channel, as many as you may have. Delete one first.",
    "You already have %(count)s channels, as many as you may have. Delete one first.", Number(limit)), { count: limit });
}

function meter(channel) {
  if (channel.daily_limit === null) return null;
  return el("meter", {
    min: "0", max: String(channel.daily_limit), value: String(channel.sent_today),
    high: String(Math.floor(channel.daily_limit * 0.8)), "aria-label": gettext("Sent today"),
  });
}

function logoPicker(current, name) {
  // A file input with a live preview of the chosen image (a blob: URL, never uploaded before "Save").
  const preview = el("span", { class: "logo-preview" }, logo(current, name, 56));
  const input = el("input", { type: "file", name: "logo", accept: "image/png,image/jpeg,image/webp", class: "file" });
  let objectUrl = null;
  input.addEventListener("change", () => {
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    preview.replaceChildren();
    const file = input.files[0];
    if (file) {
      objectUrl = URL.createObjectURL(file);
      preview.append(el("img", { class: "logo", src: objectUrl, alt: gettext("Preview of the new logo"), width: 56, height: 56 }));
    } else {
      preview.append(logo(current, name, 56));
    }
  });
  return { input, preview };
}

export async function listScreen() {
  let channels;
  try {
    ({ channels } = await api.channels());
  } catch (error) {
    show(el("h1", {}, gettext("Channels")), errorBox(explain(error)));
    return;
  }
  const name = el("input", { id: "new-channel-name", name: "name", required: true, maxlength: "64", autocomplete: "off" });
  const picker = logoPicker(null, "");
  const status = el("p", { class: "form-status", role: "status" });
  const submit = el("button", { type: "submit" }, gettext("Create channel"));
  const form = el(
    "form",
    { class: "panel", id: "create-channel" },
    el("h2", {}, gettext("New channel")),
    el("label", { for: "new-channel-name" }, gettext("Name")),
    name,
    el("label", {}, gettext("Logo (optional)"), el("span", { class: "row" }, picker.preview, picker.input)),
    el("div", { class: "actions" }, submit),
    status,
  );
  form.addEventListener("submit", busy(submit, async () => {
    const data = new FormData();
    data.append("name", name.value.trim());
    if (picker.input.files[0]) data.append("logo", picker.input.files[0]);
    status.textContent = gettext("Creating…");
    try {
      const channel = await api.createChannel(data);
      toast(interpolate(gettext("Channel “%(name)s” created."), { name: channel.name }));
      location.hash = `#/channels/${channel.token}`;
    } catch (error) {
      status.textContent = explainCreate(error);
    }
  }));
  const list = el("ul", { class: "channels", id: "channel-list" });
  for (const channel of channels) {
    list.append(
      el(
        "li",
        {},
        el(
          "a",
          { href: `#/channels/${channel.token}`, class: "channel-row" },
          logo(channel.logo_url, channel.name),
          el(
            "span",
            { class: "grow" },
            el("strong", { class: "channel-name" }, channel.name),
            " ",
            verifiedBadge(channel.verified),
            channel.blocked ? el("span", { class: "badge important" }, gettext("Blocked by staff")) : null,
            el("br"),
            el("span", { class: "muted" }, usage(channel)),
          ),
          el("span", { "aria-hidden": "true", class: "chevron" }, "›"),
        ),
      ),
    );
  }
  show(
    el("h1", {}, gettext("Channels")),
    el("p", { class: "muted" }, gettext("A channel sends messages through the send API: to your own inbox or to anyone who gives you their User Token.")),
    channels.length ? list : el("p", { class: "panel empty" }, gettext("You have no channels yet.")),
    form,
  );
}

export async function detailScreen(token) {
  let channel;
  try {
    const { channels } = await api.channels();
    channel = channels.find((c) => c.token === token);
  } catch (error) {
    show(el("h1", {}, gettext("Channel")), errorBox(explain(error)));
    return;
  }
  if (!channel) {
    show(el("h1", {}, gettext("Channel")), errorBox(gettext("There is no such channel (it may have been deleted).")),
      el("a", { href: "#/channels" }, gettext("Back to channels")));
    return;
  }
  let secretShown = false;

  // --- head
  const title = el("h1", { class: "channel-name" }, channel.name);
  const head = el(
    "div",
    { class: "channel-head" },
    logo(channel.logo_url, channel.name, 64),
    el("div", { class: "grow" }, title, el("div", {}, verifiedBadge(channel.verified)), el("p", { class: "muted", id: "usage" }, usage(channel)), meter(channel)),
  );

  // --- tokens and secret
  const secretValue = el("code", { id: "secret", class: "secret" }, "•".repeat(24));
  const showButton = el("button", { type: "button", id: "show-secret", class: "small" }, gettext("Show"));
  const copySecret = el("button", { type: "button", id: "copy-secret", class: "small" }, gettext("Copy"));
  const rotateButton = el("button", { type: "button", id: "rotate-secret", class: "danger" }, gettext("Rotate secret…"));
  const codes = el(
    "section",
    { class: "panel" },
    el("h2", {}, gettext("Send with")),
    el("dl", { class: "keys" },
      el("dt", {}, gettext("Channel Token")),
      el("dd", {}, el("code", { id: "channel-token" }, channel.token), " ",
        copyButton(channel.token, gettext("Channel Token copied."))),
      el("dt", {}, gettext("Channel Secret Key")),
      el("dd", {}, secretValue, " ", showButton, " ", copySecret),
      el("dt", {}, gettext("Your User Token")),
      el("dd", {}, el("code", {}, session.userToken), " ", copyButton(session.userToken, gettext("User Token copied."))),
    ),
    el("p", { class: "muted" }, gettext("Keep the secret out of public code. Rotating it stops the old one at once.")),
    el("div", { class: "actions" }, rotateButton),
  );
  showButton.addEventListener("click", () => {
    secretShown = !secretShown;
    secretValue.textContent = secretShown ? channel.secret : "•".repeat(24);
    showButton.textContent = secretShown ? gettext("Hide") : gettext("Show");
    renderSnippet();
  });
  copySecret.addEventListener("click", () => copy(channel.secret, gettext("Secret copied.")));
  rotateButton.addEventListener("click", busy(rotateButton, async () => {
    const ok = await confirmDialog({
      title: gettext("Rotate the secret?"),
      text: gettext("Every program that sends with the current secret will get 4003 until you give it the new one."),
      ok: gettext("Rotate"),
    });
    if (!ok) return;
    try {
      channel.secret = (await api.rotateSecret(channel.token)).secret;
      secretShown = true;
      secretValue.textContent = channel.secret;
      showButton.textContent = gettext("Hide");
      renderSnippet();
      toast(gettext("New secret made. The old one no longer works."));
    } catch (error) {
      toast(explain(error), { error: true });
    }
  }));

  // --- test message
  const testText = el("input", { id: "test-text", value: gettext("Hello from KILO.Push"), maxlength: "1000" });
  const testButton = el("button", { type: "submit" }, gettext("Send to myself"));
  const testStatus = el("p", { class: "form-status", id: "test-status", role: "status" });
  const testForm = el("form", { class: "panel", id: "test-form" },
    el("h2", {}, gettext("Send a test message")),
    el("label", { for: "test-text" }, gettext("Text")), testText,
    ...testImageField(),
    el("div", { class: "actions" }, testButton), testStatus);
  testForm.addEventListener("submit", busy(testButton, async () => {
    testStatus.textContent = gettext("Sending…");
    try {
      await sendTest({ to: session.userToken, token: channel.token, secret: channel.secret, message: testText.value });
      testStatus.textContent = gettext("Sent. It is in your inbox.");
      channel.sent_today += 1;
      document.getElementById("usage").textContent = usage(channel);
    } catch (error) {
      testStatus.textContent = explain(error);
    }
  }));

  // --- snippets
  const tabs = el("div", { class: "tabs", role: "tablist", "aria-label": gettext("Examples") });
  const pre = el("pre", { class: "snippet wrap", id: "snippet", tabindex: "0" }); // long lines wrap in sight
  const copySnippet = el("button", { type: "button", id: "copy-snippet" }, gettext("Copy example"));
  let current = "curl (form)";
  const kinds = Object.keys(snippets);
  const snippetText = (secret) =>
    snippets[current]({ to: session.userToken, token: channel.token, secret, origin: location.origin });
  function renderSnippet() {
    pre.textContent = snippetText(secretShown ? channel.secret : SECRET_PLACEHOLDER);
    for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.kind === current));
  }
  for (const kind of kinds) {
    const tab = el("button", { type: "button", role: "tab", class: "tab", dataset: { kind } }, tabName(kind));
    tab.addEventListener("click", () => {
      current = kind;
      renderSnippet();
    });
    tabs.append(tab);
  }
  // The real secret even while it is hidden on screen: a pasted placeholder would only get a 4003.
  copySnippet.addEventListener("click", () => copy(snippetText(channel.secret), gettext("Example copied.")));
  renderSnippet();
  const examples = el("section", { class: "panel" }, el("h2", {}, gettext("Examples")),
    el("p", { class: "muted" }, gettext("Ready to paste, with your tokens filled in. The secret shows once you press "
      + "“Show”; “Copy example” always copies it.")),
    tabs, pre, el("div", { class: "actions" }, copySnippet));

  // --- edit
  const nameInput = el("input", { id: "rename", value: channel.name, required: true, maxlength: "64" });
  const picker = logoPicker(channel.logo_url, channel.name);
  const save = el("button", { type: "submit" }, gettext("Save"));
  const removeLogo = el("button", { type: "button", id: "remove-logo" }, gettext("Remove logo"));
  removeLogo.hidden = !channel.logo_url;
  const editStatus = el("p", { class: "form-status", role: "status" });
  const edit = el("form", { class: "panel", id: "edit-channel" },
    el("h2", {}, gettext("Name and logo")),
    el("label", { for: "rename" }, gettext("Name")), nameInput,
    el("label", {}, gettext("Logo"), el("span", { class: "row" }, picker.preview, picker.input)),
    el("div", { class: "actions" }, save, removeLogo), editStatus);
  edit.addEventListener("submit", busy(save, async () => {
    const data = new FormData();
    if (nameInput.value.trim() !== channel.name) data.append("name", nameInput.value.trim());
    if (picker.input.files[0]) data.append("logo", picker.input.files[0]);
    if (![...data.keys()].length) {
      editStatus.textContent = gettext("Nothing changed.");
      return;
    }
    try {
      await api.updateChannel(channel.token, data);
      toast(gettext("Saved."));
      detailScreen(token);
    } catch (error) {
      editStatus.textContent = explain(error);
    }
  }));
  removeLogo.addEventListener("click", busy(removeLogo, async () => {
    try {
      await api.removeLogo(channel.token);
      toast(gettext("Logo removed."));
      detailScreen(token);
    } catch (error) {
      editStatus.textContent = explain(error);
    }
  }));

  // --- delete
  const del = el("button", { type: "button", class: "danger", id: "delete-channel" }, gettext("Delete channel…"));
  del.addEventListener("click", busy(del, async () => {
    const ok = await confirmDialog({
      title: interpolate(gettext("Delete “%(name)s”?"), { name: channel.name }),
      text: gettext("Its token and secret stop working, and the messages it sent are deleted from every inbox."),
      ok: gettext("Delete"),
    });
    if (!ok) return;
    try {
      await api.deleteChannel(channel.token);
      toast(gettext("Channel deleted."));
      location.hash = "#/channels";
    } catch (error) {
      toast(explain(error), { error: true });
    }
  }));

  show(
    el("p", {}, el("a", { href: "#/channels" }, gettext("‹ Channels"))),
    head,
    codes,
    testForm,
    examples,
    integrationsSection(channel),
    edit,
    el("section", { class: "panel" }, el("h2", {}, gettext("Delete channel")), del),
  );
}

function tabName(kind) {
  if (kind === "curl (form)") return gettext("curl (form)");
  if (kind === "curl (JSON)") return gettext("curl (JSON)");
  return kind;
}

function copyButton(text, copied) {
  const button = el("button", { type: "button", class: "small" }, gettext("Copy"));
  button.addEventListener("click", () => copy(text, copied));
  return button;
}

// "Send a test message" can attach an image (issue 25): with one, the send is multipart/form-data.
function testImageField() {
  return [
    el("label", { for: "test-image" }, gettext("Image (optional)")),
    el("input", { id: "test-image", type: "file", accept: "image/jpeg,image/png,image/gif,image/webp" }),
  ];
}

function sendTest(fields) {
  const file = document.getElementById("test-image")?.files?.[0];
  if (!file) return api.send(fields);
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("attachment", file);
  return api.sendWithImage(form);
}
