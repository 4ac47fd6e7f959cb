// Building the DOM without ever parsing markup: every piece of text goes in
// with textContent, so user-written text (titles, chat, names) stays text.
import { t } from "./i18n.js";

// h makes an element. attrs: text (textContent), i18n (a string-table key),
// class, on<event> handlers, and other attributes set verbatim. Inline style
// attributes are refused by the page's CSP; use classes or el.style.
export function h(tag, attrs = {}, ...children) {
  const ns = attrs.svg ? "http://www.w3.org/2000/svg" : null;
  const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false || k === "svg") continue;
    if (k === "text") el.textContent = v;
    else if (k === "i18n") { el.dataset.i18n = v; el.textContent = t(v); }
    else if (k === "class") el.setAttribute("class", v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// clear empties an element.
export function clear(el) {
  el.replaceChildren();
  return el;
}

// show toggles the hidden attribute.
export function show(el, on = true) {
  el.hidden = !on;
}

// backoff returns successive retry delays (ms): 1, 2, 4… capped.
export function backoff(capMs = 10000) {
  let n = 0;
  return { next: () => Math.min(capMs, 1000 * 2 ** n++), reset: () => { n = 0; } };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
