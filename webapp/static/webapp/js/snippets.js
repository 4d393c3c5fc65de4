// Ready-to-paste examples of the send API, filled in with the real tokens.
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
      `  --data-urlencode message='The door is open'`,
    ].join("\n"),
  "curl (JSON)": ({ to, token, secret, origin }) =>
    [
      `curl -X POST ${origin}/v1/messages/send \\`,
      `  -H 'Content-Type: application/json' \\`,
      `  -d ${shellQuote(JSON.stringify({ to, token, secret, message: "The door is open" }))}`,
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
      `    "message": "The door is open",`,
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
      `    message: "The door is open",`,
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
      "        'message' => 'The door is open',",
      "    ]),",
      "]);",
      "echo curl_exec($ch);",
    ].join("\n");
  },
};
