// String tables and locale formatting. The browser's language picks English
// or Simplified Chinese; the switch in the header changes it and is
// remembered. Markup carries keys (data-i18n, data-i18n-label,
// data-i18n-placeholder), never the words themselves.
export const LANGS = ["en", "zh-CN"];
const STORE_KEY = "pavilion.lang";

let lang = "en";
let table = {};
let fallback = {};
const listeners = [];

// pick chooses a language: the remembered choice, else the browser's list.
export function pick() {
  const saved = safeGet(STORE_KEY);
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    if (/^zh\b/i.test(l) && !/^zh-(TW|HK|MO|Hant)/i.test(l)) return "zh-CN";
    if (/^en\b/i.test(l)) return "en";
  }
  return "en";
}

function safeGet(k) {
  try { return localStorage.getItem(k); } catch { return null; }
}

// load fetches a table by the URL the page's import map gives it (its
// versioned, cached-for-good URL; the plain one without a map).
async function load(l) {
  const url = `/static/i18n/${l}.json`;
  const res = await fetch(import.meta.resolve?.(url) ?? url);
  if (!res.ok) throw new Error(`strings ${l}: ${res.status}`);
  return res.json();
}

// init loads the tables and translates the document.
export async function init() {
  lang = pick();
  fallback = await load("en");
  table = lang === "en" ? fallback : await load(lang).catch(() => fallback);
  document.documentElement.lang = lang;
  apply(document);
}

export const current = () => lang;

// setLang switches language without reloading (the video keeps playing).
export async function setLang(l) {
  if (!LANGS.includes(l) || l === lang) return;
  table = l === "en" ? fallback : await load(l);
  lang = l;
  try { localStorage.setItem(STORE_KEY, l); } catch { /* private mode: not remembered */ }
  document.documentElement.lang = l;
  apply(document);
  for (const fn of listeners) fn(l);
}

// onChange runs fn after every language switch (pages re-render from state).
export function onChange(fn) {
  listeners.push(fn);
}

// t looks a key up and fills {name} placeholders from vars.
export function t(key, vars) {
  let s = table[key] ?? fallback[key];
  if (s === undefined) {
    console.warn("missing string", key);
    s = key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// has reports whether a key exists.
export const has = (key) => key in table || key in fallback;

// apply translates every keyed element under root.
export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.setAttribute("title", t(el.dataset.i18nTitle));
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = title.textContent;
}

// Number and date formatting, in the viewer's locale and time zone.

const digitsCache = new Map();
function fractionDigits(currency) {
  if (!digitsCache.has(currency)) {
    const d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    digitsCache.set(currency, d);
  }
  return digitsCache.get(currency);
}

// money formats integer minor units in the currency, without floats: the
// amount goes to Intl as a decimal string.
export function money(minor, currency) {
  const d = fractionDigits(currency);
  const neg = minor < 0;
  let s = String(Math.abs(Math.trunc(minor))).padStart(d + 1, "0");
  if (d > 0) s = s.slice(0, -d) + "." + s.slice(-d);
  return new Intl.NumberFormat(lang, { style: "currency", currency }).format((neg ? "-" : "") + s);
}

export const number = (n) => new Intl.NumberFormat(lang).format(n);

export const dateTime = (iso) => new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
// dateRange formats a start and end, naming the day once when they share it.
export const dateRange = (a, b) =>
  new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).formatRange(new Date(a), new Date(b));
export const dateLong = (d) => new Intl.DateTimeFormat(lang, { weekday: "long", day: "numeric", month: "long" }).format(d);
export const time = (iso) => new Intl.DateTimeFormat(lang, { timeStyle: "short" }).format(new Date(iso));
export const monthYear = (d) => new Intl.DateTimeFormat(lang, { month: "long", year: "numeric" }).format(d);
export const weekday = (d) => new Intl.DateTimeFormat(lang, { weekday: "short" }).format(d);
export const dayMonth = (d) => new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" }).format(d);
export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

// clock formats a duration in ms as m:ss or h:mm:ss.
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (n) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

// sameDay reports whether a time falls on today's date, here.
const sameDay = (iso) => new Date(iso).toDateString() === new Date().toDateString();

// wentLive is "Went live 20:03" for a show that went live (the date too
// when it was not today), or "" when its real start is not known.
export const wentLive = (s) =>
  s?.went_live_at ? t("player.wentlive", { time: sameDay(s.went_live_at) ? time(s.went_live_at) : dateTime(s.went_live_at) }) : "";

// showWhen says when a show is: when it really went live (and ended) once
// it did, else when it is scheduled. A show that ended without its real
// start known (it never went live, or ended before the server kept it)
// says when it ended, else its schedule.
export function showWhen(s) {
  if (s.state === "ended" && s.ended_at) {
    return s.went_live_at ? t("player.aired", { range: dateRange(s.went_live_at, s.ended_at) }) : t("player.endedat", { when: dateTime(s.ended_at) });
  }
  if (s.state === "live" && s.went_live_at) return wentLive(s);
  return dateRange(s.starts_at, s.ends_at);
}
