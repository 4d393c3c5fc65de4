// The page's language: Django's JavaScript catalog (/jsi18n/LANG/, loaded before the modules) and Intl.
// Strings are marked with gettext()/ngettext()/pgettext() so that `makemessages -d djangojs` finds them.
const django = globalThis.django || {};

export const gettext = django.gettext || ((text) => text);
export const ngettext = django.ngettext || ((one, many, count) => (count === 1 ? one : many));
export const pgettext = django.pgettext || ((context, text) => text);

// interpolate("%(name)s is blocked.", { name }) with named placeholders, as in Python.
export function interpolate(text, values) {
  return text.replace(/%\((\w+)\)s/g, (match, key) => (key in values ? String(values[key]) : match));
}

// The language the server chose for this page (the kp_language cookie, else the browser's): <html lang>.
export const language = document.documentElement.lang || "en";

const numbers = new Intl.NumberFormat(language);
export function number(value) {
  return numbers.format(value);
}

// The languages this server offers, for the switch in Settings.
export function languages() {
  const node = document.getElementById("kp-languages");
  try {
    return node ? JSON.parse(node.textContent) : [];
  } catch {
    return [];
  }
}

export const LANGUAGE_COOKIE = "kp_language";

export function chosenLanguage() {
  const match = document.cookie.match(/(?:^|;\s*)kp_language=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Remembered on this device (a cookie the server reads, so the page and the service worker come in that language);
// "" goes back to the browser's language.
export function chooseLanguage(code) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = code
    ? `${LANGUAGE_COOKIE}=${encodeURIComponent(code)}; Path=/; Max-Age=315360000; SameSite=Lax${secure}`
    : `${LANGUAGE_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax${secure}`;
}
