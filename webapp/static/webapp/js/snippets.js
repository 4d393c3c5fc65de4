// Ready-to-paste examples of the send API, filled in with the real tokens. The example texts and comments are in
// the page's language; the other tools' menus and fields are named as those tools name them (in English).
import { gettext } from "./i18n.js";

const DOOR = () => gettext("The door is open");
export const SECRET_PLACEHOLDER = "YOUR_CHANNEL_SECRET";

const shellQuote = (s) => `'${String(s).replaceAll("'", `'"'"'`)}'`;
const jsonText = (v) => JSON.stringify(v);

export const snippets = {
  "curl (form)": ({ to, token, secret, origin }) =>
    [
      `curl -X POST ${origin}/v1/messages/send \\`,
      `  -d to=${shellQuote(to)} \\`,
      `  -d token=${shellQuote(token)} \\`,
      `  -d secret=${shellQuote(secret)} \\`,
      `  --data-urlencode message=${shellQuote(DOOR())}`,
    ].join("\n"),
  "curl (JSON)": ({ to, token, secret, origin }) =>
    [
      `curl -X POST ${origin}/v1/messages/send \\`,
      `  -H 'Content-Type: application/json' \\`,
      `  -d ${shellQuote(JSON.stringify({ to, token, secret, message: DOOR() }))}`,
    ].join("\n"),
  Python: ({ to, token, secret, origin }) =>
    [
      "import json",
      "import urllib.request",
      "",
      `body = json.dumps({`,
      `    "to": ${jsonText(to)},`,
      `    "token": ${jsonText(token)},`,
      `    "secret": ${jsonText(secret)},`,
      `    "message": ${jsonText(DOOR())},`,
      `}).encode()`,
      `request = urllib.request.Request(`,
      `    ${jsonText(origin + "/v1/messages/send")},`,
      `    data=body, headers={"Content-Type": "application/json"},`,
      `)`,
      `print(urllib.request.urlopen(request).read().decode())`,
    ].join("\n"),
  JavaScript: ({ to, token, secret, origin }) =>
    [
      `const response = await fetch(${jsonText(origin + "/v1/messages/send")}, {`,
      `  method: "POST",`,
      `  headers: { "Content-Type": "application/json" },`,
      `  body: JSON.stringify({`,
      `    to: ${jsonText(to)},`,
      `    token: ${jsonText(token)},`,
      `    secret: ${jsonText(secret)},`,
      `    message: ${jsonText(DOOR())},`,
      `  }),`,
      `});`,
      `console.log(await response.json());`,
    ].join("\n"),
  PHP: ({ to, token, secret, origin }) => {
    const php = (s) => `'${String(s).replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
    return [
      "<?php",
      `$ch = curl_init(${php(origin + "/v1/messages/send")});`,
      "curl_setopt_array($ch, [",
      "    CURLOPT_POST => true,",
      "    CURLOPT_RETURNTRANSFER => true,",
      "    CURLOPT_POSTFIELDS => http_build_query([",
      `        'to' => ${php(to)},`,
      `        'token' => ${php(token)},`,
      `        'secret' => ${php(secret)},`,
      `        'message' => ${php(DOOR())},`,
      "    ]),",
      "]);",
      "echo curl_exec($ch);",
    ].join("\n");
  },
};

// Settings for other tools that send with a send key (the ntfy, Gotify and webhook ways in), filled in with
// the key just created, else this placeholder: a key is shown only once.
export const KEY_PLACEHOLDER = "YOUR_SEND_KEY";

export const integrations = {
  curl: ({ key, origin }) =>
    [
      `# ${gettext("The body is the message (ntfy style)")}`,
      `curl -d "${gettext("Backup done")}" ${origin}/${key}`,
      "",
      `# ${gettext("With a title, a priority and a link")}`,
      `curl -H "Title: ${gettext("Nightly backups")}" -H "Priority: high" \\`,
      `  -H "Click: https://example.com/backups" \\`,
      `  -d "${gettext("Backup done: 12.4 GB")}" ${origin}/${key}`,
      "",
      `# ${gettext("The hook: a plain body, or JSON with message, title and url")}`,
      `curl -H "Content-Type: application/json" \\`,
      `  -d '${JSON.stringify({ title: gettext("Nightly backups"), message: gettext("Backup done") })}' \\`,
      `  ${origin}/v1/hooks/${key}`,
    ].join("\n"),
  Apprise: ({ key, origin }) => {
    const { host, protocol } = new URL(origin);
    const s = protocol === "https:" ? "s" : "";
    return [
      `# ${gettext("As a Gotify server")}`,
      `gotify${s}://${host}/${key}`,
      "",
      `# ${gettext("As an ntfy server")}`,
      `ntfy${s}://${host}/${key}`,
      "",
      `# ${gettext("For example")}`,
      `apprise -t "${gettext("Nightly backups")}" -b "${gettext("Backup done")}" \\`,
      `  "ntfy${s}://${host}/${key}"`,
    ].join("\n");
  },
  "Uptime Kuma": ({ key, origin }) =>
    [
      "Settings › Notifications › Setup Notification",
      "",
      "Notification Type:  ntfy",
      `Server URL:         ${origin}`,
      `Topic:              ${key}`,
      "Authentication:     None",
    ].join("\n"),
  "Home Assistant": ({ key, origin }) =>
    [
      `# ${gettext("configuration.yaml: a notify action, notify.kilopush")}`,
      "notify:",
      "  - name: kilopush",
      "    platform: rest",
      `    resource: ${origin}/v1/hooks/${key}`,
      "    method: POST_JSON",
      "    title_param_name: title",
      "    message_param_name: message",
      "",
      `# ${gettext("In an automation")}`,
      "action: notify.kilopush",
      "data:",
      `  title: ${gettext("Front door")}`,
      `  message: ${gettext("Someone rang the bell.")}`,
      "",
      `# ${gettext("Or Home Assistant's ntfy integration:")}`,
      `#   URL:   ${origin}`,
      `#   Topic: ${key}`,
    ].join("\n"),
  Alertmanager: ({ key, origin }) =>
    [
      "# alertmanager.yml",
      "route:",
      "  receiver: kilopush",
      "receivers:",
      "  - name: kilopush",
      "    webhook_configs:",
      `      - url: ${origin}/v1/hooks/${key}`,
      "        send_resolved: true",
    ].join("\n"),
  Grafana: ({ key, origin }) =>
    [
      "Alerting › Contact points › Add contact point",
      "",
      "Integration:  Webhook",
      `URL:          ${origin}/v1/hooks/${key}`,
      "HTTP Method:  POST",
    ].join("\n"),
  Healthchecks: ({ key, origin }) =>
    [
      "Project › Integrations › ntfy › Add Integration",
      "",
      `Server URL:  ${origin}`,
      `Topic:       ${key}`,
    ].join("\n"),
  Proxmox: ({ key, origin }) =>
    [
      "Datacenter › Notifications › Add › Gotify",
      "",
      "Endpoint Name:  kilopush",
      `Server URL:     ${origin}`,
      `API Token:      ${key}`,
      "",
      gettext("Then add the endpoint to a matcher (or the default one)."),
    ].join("\n"),
};
