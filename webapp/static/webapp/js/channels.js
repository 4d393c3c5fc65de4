// Channels: the list, creating one (name + logo with preview), and one channel's page.
import { api, explain, session } from "./api.js";
import { busy, confirmDialog, copy, el, errorBox, logo, show, toast, verifiedBadge } from "./ui.js";
import { integrationsSection } from "./integrations.js";
import { snippets, SECRET_PLACEHOLDER } from "./snippets.js";

function usage(channel) {
  if (channel.daily_limit === null) return `${channel.sent_today} sent today · no daily limit`;
  return `${channel.sent_today} of ${channel.daily_limit} sent today`;
}

function meter(channel) {
  if (channel.daily_limit === null) return null;
  return el("meter", {
    min: "0", max: String(channel.daily_limit), value: String(channel.sent_today),
    high: String(Math.floor(channel.daily_limit * 0.8)), "aria-label": "Sent today",
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
      preview.append(el("img", { class: "logo", src: objectUrl, alt: "Preview of the new logo", width: 56, height: 56 }));
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
    show(el("h1", {}, "Channels"), errorBox(explain(error)));
    return;
  }
  const name = el("input", { id: "new-channel-name", name: "name", required: true, maxlength: "64", autocomplete: "off" });
  const picker = logoPicker(null, "");
  const status = el("p", { class: "form-status", role: "status" });
  const submit = el("button", { type: "submit" }, "Create channel");
  const form = el(
    "form",
    { class: "panel", id: "create-channel" },
    el("h2", {}, "New channel"),
    el("label", { for: "new-channel-name" }, "Name"),
    name,
    el("label", {}, "Logo (optional)", el("span", { class: "row" }, picker.preview, picker.input)),
    el("div", { class: "actions" }, submit),
    status,
  );
  form.addEventListener("submit", busy(submit, async () => {
    const data = new FormData();
    data.append("name", name.value.trim());
    if (picker.input.files[0]) data.append("logo", picker.input.files[0]);
    status.textContent = "Creating…";
    try {
      const channel = await api.createChannel(data);
      toast(`Channel “${channel.name}” created.`);
      location.hash = `#/channels/${channel.token}`;
    } catch (error) {
      status.textContent = explain(error);
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
            channel.blocked ? el("span", { class: "badge important" }, "Blocked by staff") : null,
            el("br"),
            el("span", { class: "muted" }, usage(channel)),
          ),
          el("span", { "aria-hidden": "true", class: "chevron" }, "›"),
        ),
      ),
    );
  }
  show(
    el("h1", {}, "Channels"),
    el("p", { class: "muted" }, "A channel sends messages through the send API: to your own inbox or to anyone who gives you their User Token."),
    channels.length ? list : el("p", { class: "panel empty" }, "You have no channels yet."),
    form,
  );
}

export async function detailScreen(token) {
  let channel;
  try {
    const { channels } = await api.channels();
    channel = channels.find((c) => c.token === token);
  } catch (error) {
    show(el("h1", {}, "Channel"), errorBox(explain(error)));
    return;
  }
  if (!channel) {
    show(el("h1", {}, "Channel"), errorBox("There is no such channel (it may have been deleted)."), el("a", { href: "#/channels" }, "Back to channels"));
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
  const showButton = el("button", { type: "button", id: "show-secret", class: "small" }, "Show");
  const copySecret = el("button", { type: "button", id: "copy-secret", class: "small" }, "Copy");
  const rotateButton = el("button", { type: "button", id: "rotate-secret", class: "danger" }, "Rotate secret…");
  const codes = el(
    "section",
    { class: "panel" },
    el("h2", {}, "Send with"),
    el("dl", { class: "keys" },
      el("dt", {}, "Channel Token"),
      el("dd", {}, el("code", { id: "channel-token" }, channel.token), " ", copyButton(channel.token, "Channel Token")),
      el("dt", {}, "Channel Secret Key"),
      el("dd", {}, secretValue, " ", showButton, " ", copySecret),
      el("dt", {}, "Your User Token"),
      el("dd", {}, el("code", {}, session.userToken), " ", copyButton(session.userToken, "User Token")),
    ),
    el("p", { class: "muted" }, "Keep the secret out of public code. Rotating it stops the old one at once."),
    el("div", { class: "actions" }, rotateButton),
  );
  showButton.addEventListener("click", () => {
    secretShown = !secretShown;
    secretValue.textContent = secretShown ? channel.secret : "•".repeat(24);
    showButton.textContent = secretShown ? "Hide" : "Show";
    renderSnippet();
  });
  copySecret.addEventListener("click", () => copy(channel.secret, "Secret"));
  rotateButton.addEventListener("click", busy(rotateButton, async () => {
    const ok = await confirmDialog({
      title: "Rotate the secret?",
      text: "Every program that sends with the current secret will get 4003 until you give it the new one.",
      ok: "Rotate",
    });
    if (!ok) return;
    try {
      channel.secret = (await api.rotateSecret(channel.token)).secret;
      secretShown = true;
      secretValue.textContent = channel.secret;
      showButton.textContent = "Hide";
      renderSnippet();
      toast("New secret made. The old one no longer works.");
    } catch (error) {
      toast(explain(error), { error: true });
    }
  }));

  // --- test message
  const testText = el("input", { id: "test-text", value: "Hello from KILO.Push", maxlength: "1000" });
  const testButton = el("button", { type: "submit" }, "Send to myself");
  const testStatus = el("p", { class: "form-status", id: "test-status", role: "status" });
  const testForm = el("form", { class: "panel", id: "test-form" },
    el("h2", {}, "Send a test message"),
    el("label", { for: "test-text" }, "Text"), testText,
    ...testImageField(),
    el("div", { class: "actions" }, testButton), testStatus);
  testForm.addEventListener("submit", busy(testButton, async () => {
    testStatus.textContent = "Sending…";
    try {
      await sendTest({ to: session.userToken, token: channel.token, secret: channel.secret, message: testText.value });
      testStatus.textContent = "Sent. It is in your inbox.";
      channel.sent_today += 1;
      document.getElementById("usage").textContent = usage(channel);
    } catch (error) {
      testStatus.textContent = explain(error);
    }
  }));

  // --- snippets
  const tabs = el("div", { class: "tabs", role: "tablist", "aria-label": "Examples" });
  const pre = el("pre", { class: "snippet", id: "snippet", tabindex: "0" });
  const copySnippet = el("button", { type: "button", id: "copy-snippet" }, "Copy example");
  let current = "curl (form)";
  const kinds = Object.keys(snippets);
  function renderSnippet() {
    const secret = secretShown ? channel.secret : SECRET_PLACEHOLDER;
    pre.textContent = snippets[current]({ to: session.userToken, token: channel.token, secret, origin: location.origin });
    for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.kind === current));
  }
  for (const kind of kinds) {
    const tab = el("button", { type: "button", role: "tab", class: "tab", dataset: { kind } }, kind);
    tab.addEventListener("click", () => {
      current = kind;
      renderSnippet();
    });
    tabs.append(tab);
  }
  copySnippet.addEventListener("click", () => copy(pre.textContent, "Example"));
  renderSnippet();
  const examples = el("section", { class: "panel" }, el("h2", {}, "Examples"),
    el("p", { class: "muted" }, "Ready to paste, with your tokens filled in. The secret shows once you press “Show”."),
    tabs, pre, el("div", { class: "actions" }, copySnippet));

  // --- edit
  const nameInput = el("input", { id: "rename", value: channel.name, required: true, maxlength: "64" });
  const picker = logoPicker(channel.logo_url, channel.name);
  const save = el("button", { type: "submit" }, "Save");
  const removeLogo = el("button", { type: "button", id: "remove-logo" }, "Remove logo");
  removeLogo.hidden = !channel.logo_url;
  const editStatus = el("p", { class: "form-status", role: "status" });
  const edit = el("form", { class: "panel", id: "edit-channel" },
    el("h2", {}, "Name and logo"),
    el("label", { for: "rename" }, "Name"), nameInput,
    el("label", {}, "Logo", el("span", { class: "row" }, picker.preview, picker.input)),
    el("div", { class: "actions" }, save, removeLogo), editStatus);
  edit.addEventListener("submit", busy(save, async () => {
    const data = new FormData();
    if (nameInput.value.trim() !== channel.name) data.append("name", nameInput.value.trim());
    if (picker.input.files[0]) data.append("logo", picker.input.files[0]);
    if (![...data.keys()].length) {
      editStatus.textContent = "Nothing changed.";
      return;
    }
    try {
      await api.updateChannel(channel.token, data);
      toast("Saved.");
      detailScreen(token);
    } catch (error) {
      editStatus.textContent = explain(error);
    }
  }));
  removeLogo.addEventListener("click", busy(removeLogo, async () => {
    try {
      await api.removeLogo(channel.token);
      toast("Logo removed.");
      detailScreen(token);
    } catch (error) {
      editStatus.textContent = explain(error);
    }
  }));

  // --- delete
  const del = el("button", { type: "button", class: "danger", id: "delete-channel" }, "Delete channel…");
  del.addEventListener("click", busy(del, async () => {
    const ok = await confirmDialog({
      title: `Delete “${channel.name}”?`,
      text: "Its token and secret stop working, and the messages it sent are deleted from every inbox.",
      ok: "Delete",
    });
    if (!ok) return;
    try {
      await api.deleteChannel(channel.token);
      toast("Channel deleted.");
      location.hash = "#/channels";
    } catch (error) {
      toast(explain(error), { error: true });
    }
  }));

  show(
    el("p", {}, el("a", { href: "#/channels" }, "‹ Channels")),
    head,
    codes,
    testForm,
    examples,
    integrationsSection(channel),
    edit,
    el("section", { class: "panel" }, el("h2", {}, "Delete"), del),
  );
}

function copyButton(text, what) {
  const button = el("button", { type: "button", class: "small" }, "Copy");
  button.addEventListener("click", () => copy(text, what));
  return button;
}

// "Send a test message" can attach an image (issue 25): with one, the send is multipart/form-data.
function testImageField() {
  return [
    el("label", { for: "test-image" }, "Image (optional)"),
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
