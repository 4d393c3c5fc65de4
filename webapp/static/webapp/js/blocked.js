// Blocked channels: the blacklist, with unblock.
import { api, explain } from "./api.js";
import { gettext, interpolate } from "./i18n.js";
import { busy, el, errorBox, logo, show, toast } from "./ui.js";

export async function screen() {
  let channels;
  try {
    ({ channels } = await api.blocked());
  } catch (error) {
    show(el("h1", {}, gettext("Blocked channels")), errorBox(explain(error)));
    return;
  }
  const list = el("ul", { class: "channels", id: "blocked-list" });
  for (const channel of channels) {
    const unblock = el("button", { type: "button", class: "small" }, gettext("Unblock"));
    const row = el("li", { class: "channel-row" }, logo(channel.logo_url, channel.name),
      el("strong", { class: "grow channel-name" }, channel.name), unblock);
    unblock.addEventListener("click", busy(unblock, async () => {
      try {
        await api.unblock(channel.token);
        row.remove();
        toast(interpolate(gettext("%(name)s is unblocked."), { name: channel.name }));
        if (!list.children.length) screen();
      } catch (error) {
        toast(explain(error), { error: true });
      }
    }));
    list.append(row);
  }
  show(
    el("h1", {}, gettext("Blocked channels")),
    el("p", { class: "muted" }, gettext("Messages from these channels are refused (the sender gets 4024). Block a channel from any of its messages in the inbox.")),
    channels.length ? list : el("p", { class: "panel empty" }, gettext("You have not blocked any channel.")),
  );
}
