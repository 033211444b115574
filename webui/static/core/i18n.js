// The message catalog. Every string the console shows comes from t(key, args):
// whole sentences with {named} placeholders, never glued from fragments, so a
// translator sees each message entire. The catalog is merged by the server from
// webui/static/i18n/*.json (one file per panel, keys prefixed with its name).
"use strict";

// In check mode (localStorage "sb.i18ncheck" = "1", set by the tests) every
// translated string is wrapped in two invisible marks; a test then walks the page
// and fails on any text that is neither one whole marked message nor data
// (inside an element with data-v).
export const MARK_START = "\u2062";
export const MARK_END = "\u2063";

let catalog = {};   // language => its messages, or their JSON text until first used
let messages = {};  // the current language's messages
let languages = ["it", "en"];
let check = false;
const missing = new Set();

/** The console's current language ("it" or "en"). */
export let lang = "en";

/**
 * initI18n takes the catalog: for each language its messages, or their JSON
 * text (parsed when the language is first chosen: a page in Italian never
 * reads the English messages).
 */
export function initI18n(cat, langs) {
  catalog = Object.assign({}, cat);
  languages = langs;
  check = localStorage.getItem("sb.i18ncheck") === "1";
  useLang(chooseLang());
}

function useLang(l) {
  if (typeof catalog[l] === "string") catalog[l] = JSON.parse(catalog[l]);
  messages = catalog[l] || {};
  lang = l;
  document.documentElement.lang = l;
}

// chooseLang: the user's choice if any, else the browser's first language we
// have, else English.
function chooseLang() {
  const saved = localStorage.getItem("sb.lang");
  if (saved && languages.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || ""]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (languages.includes(base)) return base;
  }
  return languages.includes("en") ? "en" : languages[0];
}

export function availableLanguages() { return languages.slice(); }

export function setLang(l) {
  if (!languages.includes(l)) return;
  localStorage.setItem("sb.lang", l);
  useLang(l);
}

/** has reports whether key is in the catalog (for optional per-value labels). */
export function has(key) { return Object.prototype.hasOwnProperty.call(messages, key); }

/**
 * t returns the message key in the current language with {name} replaced by
 * args.name (numbers formatted for the language). A message with plural forms
 * is chosen by args.n. A missing key shows as the key itself and is recorded.
 */
export function t(key, args) {
  let m = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : undefined;
  if (m === undefined) {
    missing.add(key);
    m = key;
  }
  if (typeof m === "object") {
    const n = Number(args && args.n);
    m = m[intl("plural", () => new Intl.PluralRules(lang)).select(n)] ?? m.other;
  }
  const out = m.replace(/\{(\w+)\}/g, (all, name) =>
    args && Object.prototype.hasOwnProperty.call(args, name) ? fmtArg(args[name]) : all);
  return check ? MARK_START + out + MARK_END : out;
}

function fmtArg(v) {
  if (typeof v === "number") return fmtNumber(v);
  return String(v ?? "");
}

// intl keeps one formatter of each kind per language: building one costs far
// more than using it.
const formatters = new Map();
function intl(kind, make) {
  const k = lang + " " + kind;
  if (!formatters.has(k)) formatters.set(k, make());
  return formatters.get(k);
}

// Whole numbers in the console's languages are grouped here, as
// Intl.NumberFormat groups them (CLDR: en 1,234 and 12,345; it 1234 and
// 12.345, Italian groups from five digits): a page's first
// Intl.NumberFormat loads ICU's number data, which costs a fresh page tens of
// milliseconds, more than building a list page. A test in webui/e2e compares
// the two in Chromium.
const grouping = { en: { sep: ",", from: 4 }, it: { sep: ".", from: 5 } };

/** groupDigits formats a safe integer in language l as Intl.NumberFormat does, or returns null. */
export function groupDigits(n, l) {
  const g = grouping[l];
  if (!g || !Number.isSafeInteger(n) || Object.is(n, -0)) return null;
  const s = String(Math.abs(n));
  const out = s.length < g.from ? s : s.replace(/\B(?=(\d{3})+$)/g, g.sep);
  return n < 0 ? "-" + out : out;
}

/** plain is t() without the check-mode marks: text sent to the API (a copy's name). */
export function plain(key, args) {
  return t(key, args).replace(/[\u2062\u2063]/g, "");
}

/** missingKeys lists the keys t() was asked for and did not find. */
export function missingKeys() { return [...missing]; }

/** fmtNumber formats a number for the current language. */
export function fmtNumber(n) {
  return groupDigits(n, lang) ?? intl("number", () => new Intl.NumberFormat(lang)).format(n);
}

/** fmtTime formats an RFC 3339 time as a local date and time (numeric). */
export function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return intl("time", () => new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium" })).format(d);
}

/** fmtBytes formats a size with a binary unit from the catalog. */
export function fmtBytes(n) {
  if (n < 1024) return t("core.bytes", { n });
  const one = intl("one-decimal", () => new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }));
  if (n < 1024 * 1024) return t("core.kib", { size: one.format(n / 1024) });
  return t("core.mib", { size: one.format(n / 1048576) });
}
