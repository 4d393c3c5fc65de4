// Live inbox updates: the SSE stream read with fetch() (EventSource cannot send the Bearer header),
// and polling of GET /v1/app/messages when the server has no stream or it cannot be reached.
import { ApiError, api, session } from "./api.js";

const POLL_MS = 1000;
const RECONCILE_MS = 15000;
const STREAM_RETRY_MAX_MS = 15000;

export class Live {
  // handlers: lastId() -> the newest message id already shown; message(item); read({ids}|{up_to});
  // deleted({id}); acknowledged({id}); reset(); reconcile() (re-read what may have changed while away); state("live"|"polling"|"offline")
  constructor(handlers) {
    this.h = handlers;
    this.stopped = true;
    this.controller = null;
    this.timer = null;
    this.mode = null;
  }

  async start() {
    this.stopped = false;
    let url = null;
    try {
      url = (await api.config()).stream_url || null;
    } catch (error) {
      if (error instanceof ApiError && error.offline) {
        this.setState("offline");
        this.later(() => this.start(), 3000);
        return;
      }
      url = null; // an older server: no stream, poll instead
    }
    this.streamUrl = url;
    if (url) this.stream(0);
    else this.poll();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
  }

  later(fn, ms) {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(fn, ms);
  }

  setState(state) {
    if (state !== this.mode) {
      this.mode = state;
      this.h.state(state);
    }
  }

  async stream(failures) {
    if (this.stopped) return;
    this.controller = new AbortController();
    const url = new URL(this.streamUrl);
    // Replays what we missed (newer than the newest shown), oldest first; the stream sends the
    // same message only once per connection and we drop ids already shown.
    url.searchParams.set("after", String(this.h.lastId()));
    let connected = false;
    try {
      const response = await fetch(url, {
        headers: { Authorization: `Bearer ${session.accessToken}`, Accept: "text/event-stream" },
        cache: "no-store",
        signal: this.controller.signal,
      });
      if (response.status === 401) {
        // Let the API say it in its own words (and sign out) through a normal call.
        await api.me().catch(() => {});
        return;
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      connected = true;
      this.setState("live");
      if (failures > 0) this.h.reconcile();
      await this.read(response.body);
    } catch (error) {
      if (this.stopped) return;
      if (!connected && !navigator.onLine) this.setState("offline");
    }
    if (this.stopped) return;
    failures = connected ? 1 : failures + 1;
    if (!connected && failures >= 3) {
      // The stream is unreachable (a proxy in the way?): poll for a while, then try it again.
      this.poll({ until: Date.now() + 30000 });
      return;
    }
    this.later(() => this.stream(failures), Math.min(STREAM_RETRY_MAX_MS, 500 * 2 ** failures));
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (event.data.length) this.dispatch(event.type, event.data.join("\n"));
          event = { type: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue; // keepalive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event.type = value;
        else if (field === "data") event.data.push(value);
        else if (field === "id") event.id = value;
      }
    }
  }

  dispatch(type, data) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (type === "message") this.h.message(payload);
    else if (type === "read") this.h.read(payload);
    else if (type === "deleted") this.h.deleted(payload);
    else if (type === "acknowledged") this.h.acknowledged(payload);
    else if (type === "reset") this.h.reset();
  }

  async poll({ until = null } = {}) {
    if (this.stopped) return;
    if (until && Date.now() > until && this.streamUrl) {
      this.stream(0);
      return;
    }
    try {
      const { messages } = await api.messages({ after: this.h.lastId(), limit: 100 });
      if (this.mode === "offline") this.h.reconcile();
      this.setState("polling");
      if (messages.length === 100) this.h.reset(); // more were missed than one page holds: re-read the inbox
      else for (const item of messages.slice().reverse()) this.h.message(item);
      if (!this.lastReconcile || Date.now() - this.lastReconcile > RECONCILE_MS) {
        this.lastReconcile = Date.now();
        if (this.reconciledOnce) this.h.reconcile();
        this.reconciledOnce = true;
      }
    } catch (error) {
      if (error instanceof ApiError && error.offline) this.setState("offline");
      if (error instanceof ApiError && error.status === 4001) return;
    }
    this.later(() => this.poll({ until }), POLL_MS);
  }
}
