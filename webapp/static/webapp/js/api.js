// The one door to the KILO.Push API: fetch, the Bearer token and the {"response": {...}} error envelope.
import { gettext, interpolate, language, ngettext } from "./i18n.js";

const TOKEN_KEY = "kp.access_token";
const USER_KEY = "kp.user_token";

export class ApiError extends Error {
  constructor(status, message, { http = 0, retryAfter = null } = {}) {
    super(message);
    this.status = status; // 40xx code of the envelope; 0 when the server could not be reached
    this.http = http;
    this.retryAfter = retryAfter; // seconds, for 4029
  }

  get offline() {
    return this.status === 0;
  }
}

export const session = {
  get accessToken() {
    return localStorage.getItem(TOKEN_KEY);
  },
  get userToken() {
    return localStorage.getItem(USER_KEY);
  },
  save({ access_token, user_token }) {
    localStorage.setItem(TOKEN_KEY, access_token);
    localStorage.setItem(USER_KEY, user_token);
  },
  clear() {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith("kp.")) localStorage.removeItem(key);
    }
  },
};

// Someone (main.js) is told when the server no longer knows our access token.
let onRevoked = () => {};
export function whenRevoked(callback) {
  onRevoked = callback;
}

export async function request(method, path, { body, form, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth && session.accessToken) headers.Authorization = `Bearer ${session.accessToken}`;
  let payload;
  if (form) {
    payload = form; // FormData: the browser sets multipart/form-data with its boundary
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  } catch {
    throw new ApiError(0, gettext("You are offline, or the server cannot be reached."));
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok && !(data && data.response && data.response.status >= 4000)) return data;
  const error = (data && data.response) || {};
  const retry = response.headers.get("Retry-After");
  const apiError = new ApiError(error.status || response.status, error.message || `HTTP ${response.status}`, {
    http: response.status,
    retryAfter: retry === null ? null : Number(retry),
  });
  if (apiError.status === 4001 && auth && session.accessToken) onRevoked(apiError);
  return Promise.reject(apiError);
}

export const api = {
  config: () => request("GET", "/v1/app/config", { auth: false }),
  register: () => request("POST", "/v1/app/register", { body: { platform: "web" }, auth: false }),
  link: (code) => request("POST", "/v1/app/link", { body: { code }, auth: false }),
  linkPreview: (code) => request("POST", "/v1/app/link/preview", { body: { code }, auth: false }),
  sessions: () => request("GET", "/v1/app/sessions"),
  revokeSession: (id) => request("DELETE", `/v1/app/sessions/${encodeURIComponent(id)}`),
  signOut: () => request("DELETE", "/v1/app/sessions/current"),
  linkCode: () => request("POST", "/v1/app/link-codes"),
  me: () => request("GET", "/v1/app/me"),
  deleteAccount: () => request("DELETE", "/v1/app/me"),
  messages: (query = {}) => request("GET", "/v1/app/messages?" + new URLSearchParams(query)),
  markRead: (id) => request("POST", `/v1/app/messages/${id}/read`),
  acknowledge: (id) => request("POST", `/v1/app/messages/${id}/ack`),
  pressAction: (id, action) => request("POST", `/v1/app/messages/${id}/actions/${encodeURIComponent(action)}`),
  markAllRead: (upTo) => request("POST", "/v1/app/messages/read", { body: { up_to: upTo } }),
  deleteMessage: (id) => request("DELETE", `/v1/app/messages/${id}`),
  channels: () => request("GET", "/v1/app/channels"),
  createChannel: (form) => request("POST", "/v1/app/channels", { form }),
  updateChannel: (token, form) => request("PATCH", `/v1/app/channels/${encodeURIComponent(token)}`, { form }),
  removeLogo: (token) => request("PATCH", `/v1/app/channels/${encodeURIComponent(token)}`, { body: { logo: null } }),
  deleteChannel: (token) => request("DELETE", `/v1/app/channels/${encodeURIComponent(token)}`),
  rotateSecret: (token) => request("POST", `/v1/app/channels/${encodeURIComponent(token)}/rotate-secret`),
  sendKeys: (token) => request("GET", `/v1/app/channels/${encodeURIComponent(token)}/keys`),
  createSendKey: (token, fields) => request("POST", `/v1/app/channels/${encodeURIComponent(token)}/keys`, { body: fields }),
  revokeSendKey: (token, id) =>
    request("DELETE", `/v1/app/channels/${encodeURIComponent(token)}/keys/${encodeURIComponent(id)}`),
  blocked: () => request("GET", "/v1/app/blocked"),
  block: (channel) => request("POST", "/v1/app/blocked", { body: { channel } }),
  unblock: (token) => request("DELETE", `/v1/app/blocked/${encodeURIComponent(token)}`),
  devices: () => request("GET", "/v1/app/devices"),
  addDevice: (device) => request("POST", "/v1/app/devices", { body: device }),
  removeDevice: (id) => request("DELETE", `/v1/app/devices/${encodeURIComponent(id)}`),
  webpushKey: () => request("GET", "/v1/app/webpush", { auth: false }),
  // The public send API, as any sender would call it.
  send: (fields) => request("POST", "/v1/messages/send", { body: fields, auth: false }),
  // The same with an image: multipart/form-data whose file part is `attachment`.
  sendWithImage: (form) => request("POST", "/v1/messages/send", { form, auth: false }),
};

// The API's own messages stay English (the published contract): the page says each failure in its own words.
// Bad input (4005, 4006, …) is told by the field the API names ("name: …"), else by its code.
const FIELDS = () => ({
  name: gettext("The name was not accepted. Check it and try again."),
  logo: gettext("The logo was not accepted: use a PNG, JPEG or WebP image."),
  message: gettext("The text was not accepted. Check it and try again."),
  attachment: gettext("The image was not accepted: use a JPEG, PNG, GIF or WebP image."),
  to: gettext("The User Token was not accepted. Check it and try again."),
  label: gettext("The label was not accepted. Check it and try again."),
  code: gettext("The link code was not accepted. Check it and try again."),
});

// A sentence a person can act on, for any failure.
export function explain(error) {
  if (!(error instanceof ApiError)) return gettext("Something went wrong. Please try again.");
  if (error.offline) return gettext("You are offline. Check your connection; the page retries by itself.");
  if (error.status === 4029) {
    const wait = error.retryAfter ? " " + interpolate(gettext("Try again in %(wait)s."), { wait: humanWait(error.retryAfter) }) : "";
    if (/daily limit/i.test(error.message)) {
      return gettext("This channel has used up its daily limit. It can send again after midnight (UTC).") + wait;
    }
    return gettext("Too many attempts from this network.") + (wait || " " + gettext("Wait a while and try again."));
  }
  if (error.status === 4024) return gettext("This channel is blocked in your inbox, so its messages are refused.");
  if (error.status === 4023) return gettext("This channel or account is blocked by the platform's staff.");
  if (error.status === 4003) return gettext("The channel's secret is wrong.");
  if (error.status === 4001) return gettext("This browser is signed out: the inbox was deleted or its access was revoked.");
  if (error.status === 4004) return gettext("That no longer exists.");
  if (error.status === 4013 || error.http === 413) return gettext("The file is too large.");
  // In English the API's own sentence is already the reader's language, and the most precise.
  if (language === "en" && error.message) return error.message;
  if (error.status >= 4005 && error.status < 4100) {
    return FIELDS()[(error.message.match(/^(\w+):/) || [])[1]]
      || gettext("The server did not accept this. Check what you entered and try again.");
  }
  if (error.http >= 500) return gettext("The server had a problem. Please try again in a moment.");
  return gettext("Something went wrong. Please try again.");
}

function humanWait(seconds) {
  if (seconds < 90) {
    const count = Math.ceil(seconds);
    return interpolate(ngettext("%(count)s second", "%(count)s seconds", count), { count });
  }
  if (seconds < 5400) {
    const count = Math.ceil(seconds / 60);
    return interpolate(ngettext("%(count)s minute", "%(count)s minutes", count), { count });
  }
  const count = Math.ceil(seconds / 3600);
  return interpolate(ngettext("%(count)s hour", "%(count)s hours", count), { count });
}
