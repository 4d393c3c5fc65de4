// The first screen of a fresh browser: what this is, "Create my inbox" and "I have a link code".
import { api, explain, session } from "./api.js";
import { gettext } from "./i18n.js";
import { qrCanvas } from "./qr.js";
import { busy, copy, el, show } from "./ui.js";

export function screen({ onSignedIn, notice }) {
  const create = el("button", { type: "button", id: "create-inbox", class: "primary" }, gettext("Create my inbox"));
  const createStatus = el("p", { class: "form-status", role: "status" });
  create.addEventListener("click", busy(create, async () => {
    createStatus.textContent = gettext("Creating…");
    try {
      session.save(await api.register());
      ready(onSignedIn);
    } catch (error) {
      createStatus.textContent = explain(error);
    }
  }));

  const codeInput = el("input", { id: "link-code-input", autocomplete: "one-time-code", autocapitalize: "characters", spellcheck: "false", required: true, maxlength: "64", placeholder: "ABCDE-FGHJK" });
  const linkButton = el("button", { type: "submit" }, gettext("Link this browser"));
  const linkStatus = el("p", { class: "form-status", role: "status", id: "link-status" });
  const linkForm = el("form", { id: "link-form", hidden: true },
    el("label", { for: "link-code-input" }, gettext("Link code from your other device")), codeInput,
    el("div", { class: "actions" }, linkButton), linkStatus);
  linkForm.addEventListener("submit", busy(linkButton, async () => {
    linkStatus.textContent = gettext("Checking the code…");
    const code = codeInput.value;
    try {
      const preview = await api.linkPreview(code);
      confirmScreen(code, preview, {
        onSignedIn,
        onCancel: () => screen({ onSignedIn }),
        onFailed: (text) => screen({ onSignedIn, notice: text }),
      });
    } catch (error) {
      linkStatus.textContent = explainLink(error);
    }
  }));
  const haveCode = el("button", { type: "button", id: "have-code", class: "link-button" }, gettext("I have a link code"));
  haveCode.addEventListener("click", () => {
    linkForm.hidden = false;
    haveCode.hidden = true;
    codeInput.focus();
  });

  show(
    el("section", { class: "hero" },
      el("img", { src: "/static/webapp/icons/icon-192.png", alt: "", width: 96, height: 96 }),
      el("h1", {}, gettext("Your own push inbox")),
      el("p", {}, gettext("KILO.Push delivers short messages from your scripts, servers and devices to your browser "
        + "and phone: a door bell, a finished backup, a failed build.")),
      el("ol", { class: "steps" },
        el("li", {}, gettext("Create an inbox. No e-mail, no password: this browser keeps the key.")),
        el("li", {}, gettext("Create a channel and send to your User Token with one HTTP request.")),
        el("li", {}, gettext("Read messages here, live, or as notifications."))),
      notice ? el("p", { class: "error", role: "alert", id: "notice" }, notice) : null,
      el("div", { class: "actions center" }, create),
      createStatus,
      el("div", { class: "center" }, haveCode),
      linkForm),
  );
}

function ready(onSignedIn) {
  const token = session.userToken;
  const copyButton = el("button", { type: "button", class: "small" }, gettext("Copy"));
  copyButton.addEventListener("click", () => copy(token, gettext("User Token copied.")));
  const open = el("button", { type: "button", class: "primary", id: "open-inbox" }, gettext("Open my inbox"));
  open.addEventListener("click", () => onSignedIn());
  show(
    el("section", { class: "hero" },
      el("h1", {}, gettext("Your inbox is ready")),
      el("p", {}, gettext("This is your User Token, the address senders use. You can find it again under Settings.")),
      el("p", { class: "token-line" }, el("code", { id: "user-token" }, token), " ", copyButton),
      qrCanvas(token, { label: gettext("QR code of your User Token") }),
      el("div", { class: "actions center" }, open)),
  );
}

function explainLink(error) {
  return error.status === 4005
    ? gettext("That link code is wrong, already used or expired. Make a new one on your other device.")
    : explain(error);
}

// Opening SITE/#link=CODE: nothing is stored until the person has seen whose inbox it is and said yes.
export async function linkFromUrl(code, { onSignedIn, onCancel, onFailed, replacing = null }) {
  let preview;
  try {
    preview = await api.linkPreview(code);
  } catch (error) {
    onFailed(explainLink(error));
    return;
  }
  confirmScreen(code, preview, { onSignedIn, onCancel, onFailed, replacing });
}

// "This browser will show the inbox of u_…abcd. Continue?": the code is redeemed (an access token made) only on Continue.
function confirmScreen(code, preview, { onSignedIn, onCancel, onFailed, replacing = null }) {
  const target = `u_…${preview.user_token_last4}`;
  const cancel = el("button", { type: "button", id: "link-cancel" }, gettext("Cancel"));
  const go = el("button", { type: "button", class: "primary", id: "link-continue" }, gettext("Continue"));
  const status = el("p", { class: "form-status", role: "status" });
  cancel.addEventListener("click", () => onCancel());
  go.addEventListener("click", busy(go, async () => {
    status.textContent = gettext("Linking…");
    let linked;
    try {
      linked = await api.link(code);
    } catch (error) {
      onFailed(explainLink(error));
      return;
    }
    if (replacing) replacing();
    session.save(linked);
    onSignedIn();
  }));
  const current = session.userToken;
  show(
    el("section", { class: "hero", id: "link-confirm" },
      el("h1", {}, gettext("Link this browser?")),
      el("p", { id: "link-prompt", class: "prompt" },
        ...withCode(gettext("This browser will show the inbox of %(token)s. Continue?"), target)),
      el("p", { class: "muted" }, gettext("Only continue if you made this link code yourself, on your other device. "
        + "Whoever made it can read every message this inbox receives, and owns the channels created in it.")),
      current ? el("p", { class: "muted", id: "link-replaces" },
        ...withCode(gettext("This browser now shows the inbox of %(token)s. It is not deleted, but this browser leaves it."),
          `u_…${current.slice(-4)}`)) : null,
      el("div", { class: "actions center" }, cancel, go),
      status),
  );
}

// A translated sentence with a token in it, the token as <code>: the sentence's word order is the language's.
function withCode(sentence, token) {
  const [before, after] = sentence.split("%(token)s");
  return [before, el("code", {}, token), after || ""];
}
