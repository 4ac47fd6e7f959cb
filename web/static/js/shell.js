// The frame every page shares: skip link, top bar with the language switch
// and the account menu, the log-in / sign-up dialog, and the access tokens
// panel.
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { api, get, post, del, me, ApiError, hasRole } from "./api.js";

let user = null;
const userListeners = [];

export const currentUser = () => user;

// onUser runs fn now and whenever the user signs in or out.
export function onUser(fn) {
  userListeners.push(fn);
}

function setUser(u) {
  user = u;
  renderAccount();
  for (const fn of userListeners) fn(u);
}

// start loads strings and the user, then draws the shell. Pages call it first.
// A request without a session cookie is a visitor's: the server says so in
// the page (pages.go sessionHint) and there is no one to ask /api/me about
// (its 401 would be an error in the console).
export async function start() {
  await i18n.init();
  const visitor = document.querySelector('meta[name="pavilion-session"]')?.content === "none";
  user = visitor ? null : await me().catch(() => null);
  drawTop();
  i18n.onChange(() => renderAccount());
  // The live room closes a socket whose credential ended (4001) or whose
  // account changed (4002): find out who we are now.
  window.addEventListener("pavilion:account", refreshUser);
  return user;
}

// refreshUser asks the server who we are and tells the page if that changed
// (signed out elsewhere, token revoked, roles changed).
async function refreshUser() {
  const u = await me().catch(() => user);
  const key = (x) => (x ? JSON.stringify([x.id, x.roles, x.brand_ids]) : "");
  if (key(u) !== key(user)) {
    if (user && !u) toast(t("auth.ended"));
    setUser(u);
  }
}

function drawTop() {
  const top = $("#top");
  const langSel = h("select", { id: "lang", "data-i18n-label": "lang.label", "aria-label": t("lang.label") },
    ...i18n.LANGS.map((l) => h("option", { value: l, text: t("lang." + l), selected: l === i18n.current() })));
  langSel.addEventListener("change", () => i18n.setLang(langSel.value));
  clear(top).append(
    h("a", { href: "/", class: "logo", i18n: "app.name" }),
    h("nav", { "data-i18n-label": "nav.label", "aria-label": t("nav.label") }, h("span", { id: "nav-links" })),
    h("div", { class: "top-tools" }, langSel, h("span", { id: "account" })),
  );
  renderAccount();
}

function renderAccount() {
  const nav = $("#nav-links");
  const acct = $("#account");
  if (!nav || !acct) return;
  clear(nav);
  if (user) nav.append(h("a", { href: "/orders", i18n: "nav.orders" }), h("a", { href: "/account", i18n: "nav.account" }));
  if (hasRole(user, "brand_admin") || hasRole(user, "admin")) nav.append(h("a", { href: "/brand", i18n: "nav.brand" }));
  clear(acct);
  if (user) {
    acct.append(
      h("span", { class: "who", text: user.display_name }),
      h("button", { type: "button", class: "link", id: "tokens-open", i18n: "tokens.open", onclick: openTokens }),
      h("button", { type: "button", class: "link", id: "logout", i18n: "auth.logout", onclick: logout }),
    );
  } else {
    acct.append(h("button", { type: "button", class: "secondary", id: "login-open", i18n: "auth.login", onclick: () => openLogin() }));
  }
}

async function logout() {
  await api("POST", "/api/auth/logout").catch(() => {});
  setUser(null);
}

let dialog;
let pending = [];

// requireLogin resolves with the user, asking them to log in first if needed.
export function requireLogin() {
  if (user) return Promise.resolve(user);
  return new Promise((resolve) => {
    pending.push(resolve);
    openLogin();
  });
}

export function openLogin(mode = "login") {
  if (!dialog) dialog = buildDialog();
  setMode(mode);
  dialog.showModal();
  $(mode === "signup" ? "#auth-name" : "#auth-email", dialog).focus();
}

function setMode(mode) {
  dialog.dataset.mode = mode;
  const signup = mode === "signup";
  $("#auth-name-row", dialog).hidden = !signup;
  $("#auth-name", dialog).required = signup;
  $("#auth-title", dialog).textContent = t(signup ? "auth.signup.title" : "auth.login.title");
  $("#auth-submit", dialog).textContent = t(signup ? "auth.signup" : "auth.login");
  $("#auth-switch", dialog).textContent = t(signup ? "auth.have" : "auth.new");
  $("#auth-password", dialog).autocomplete = signup ? "new-password" : "current-password";
  $("#auth-error", dialog).textContent = "";
}

function field(id, key, attrs) {
  return h("div", { class: "field", id: id + "-row" },
    h("label", { for: id, i18n: key }),
    h("input", { id, name: id, ...attrs }));
}

function buildDialog() {
  const d = h("dialog", { id: "auth", class: "sheet", "aria-labelledby": "auth-title" });
  const form = h("form", { method: "dialog", novalidate: false },
    h("h2", { id: "auth-title" }),
    field("auth-name", "auth.name", { autocomplete: "name", maxlength: 80 }),
    field("auth-email", "auth.email", { type: "email", autocomplete: "email", required: true }),
    field("auth-password", "auth.password", { type: "password", required: true, minlength: 8 }),
    h("p", { id: "auth-error", class: "error", role: "alert" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", id: "auth-submit" }),
      h("button", { type: "button", class: "link", id: "auth-switch",
        onclick: () => setMode(d.dataset.mode === "signup" ? "login" : "signup") }),
      h("button", { type: "button", class: "secondary", i18n: "common.close", onclick: () => d.close() })),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const signup = d.dataset.mode === "signup";
    const body = { email: $("#auth-email", d).value.trim(), password: $("#auth-password", d).value };
    if (signup) body.display_name = $("#auth-name", d).value.trim();
    const err = $("#auth-error", d);
    err.textContent = "";
    try {
      const res = await api("POST", signup ? "/api/auth/signup" : "/api/auth/login", body);
      d.close();
      form.reset();
      setUser(res.user);
      const waiting = pending;
      pending = [];
      for (const r of waiting) r(res.user);
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.text() : String(e);
    }
  });
  d.addEventListener("close", () => { if (!user) pending = []; });
  d.append(form);
  document.body.append(d);
  return d;
}

// ---- access tokens: bearer tokens for scripts and OBS, listed and revoked here

let tokensDialog;

async function openTokens() {
  if (!tokensDialog) tokensDialog = buildTokens();
  $("#token-new", tokensDialog).hidden = true;
  $("#tokens-error", tokensDialog).textContent = "";
  tokensDialog.showModal();
  await loadTokens();
}

function buildTokens() {
  const d = h("dialog", { id: "tokens", class: "sheet", "aria-labelledby": "tokens-title" });
  const form = h("form", { id: "token-form", class: "row" },
    h("div", { class: "field" },
      h("label", { for: "token-name", i18n: "tokens.name" }),
      h("input", { id: "token-name", name: "token-name", maxlength: 64, autocomplete: "off" })),
    h("div", { class: "field" },
      h("label", { for: "token-days", i18n: "tokens.days" }),
      h("input", { id: "token-days", name: "token-days", type: "number", min: 1, max: 90, value: 30, required: true })),
    h("button", { type: "submit", class: "secondary", id: "token-create", i18n: "tokens.create" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("#tokens-error", d);
    err.textContent = "";
    try {
      const days = Number($("#token-days", d).value);
      const res = await post("/api/tokens", { name: $("#token-name", d).value.trim(), ttl_seconds: Math.round(days * 86400) });
      $("#token-secret", d).value = res.token;
      $("#token-new", d).hidden = false;
      form.reset();
      await loadTokens();
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.text() : String(e);
    }
  });
  d.append(
    h("h2", { id: "tokens-title", i18n: "tokens.title" }),
    h("p", { class: "muted", i18n: "tokens.intro" }),
    h("div", { id: "token-new", hidden: true },
      h("label", { for: "token-secret", i18n: "tokens.once" }),
      h("input", { id: "token-secret", readonly: true })),
    h("div", { class: "table-wrap" }, h("table", { id: "tokens-table" },
      h("thead", {}, h("tr", {},
        h("th", { i18n: "tokens.name" }), h("th", { i18n: "tokens.created" }), h("th", { i18n: "tokens.expires" }),
        h("th", { i18n: "tokens.lastused" }), h("th", {}))),
      h("tbody", { id: "tokens-list" }))),
    h("p", { id: "tokens-empty", class: "muted", i18n: "tokens.none", hidden: true }),
    form,
    h("p", { id: "tokens-error", class: "error", role: "alert" }),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", i18n: "common.close", onclick: () => d.close() })),
  );
  document.body.append(d);
  return d;
}

async function loadTokens() {
  const d = tokensDialog;
  const body = clear($("#tokens-list", d));
  try {
    const { tokens } = await get("/api/tokens");
    $("#tokens-empty", d).hidden = tokens.length > 0;
    for (const tk of tokens) {
      body.append(h("tr", { "data-id": tk.id },
        h("td", { text: tk.name || t("tokens.unnamed") }),
        h("td", { text: i18n.dateTime(tk.created_at) }),
        h("td", { text: i18n.dateTime(tk.expires_at) }),
        h("td", { text: tk.last_used_at ? i18n.dateTime(tk.last_used_at) : t("tokens.never") }),
        h("td", {}, h("button", { type: "button", class: "link small", i18n: "tokens.revoke",
          "aria-label": t("tokens.revoke.label", { name: tk.name || t("tokens.unnamed") }),
          onclick: () => revokeToken(tk) }))));
    }
  } catch (e) {
    $("#tokens-error", d).textContent = e instanceof ApiError ? e.text() : String(e);
  }
}

async function revokeToken(tk) {
  if (!confirm(t("tokens.revoke.confirm", { name: tk.name || t("tokens.unnamed") }))) return;
  try {
    await del(`/api/tokens/${tk.id}`);
    toast(t("tokens.revoked"));
  } catch (e) {
    $("#tokens-error", tokensDialog).textContent = e instanceof ApiError ? e.text() : String(e);
  }
  await loadTokens();
}

// toast says something briefly in the page's polite live region.
export function toast(text) {
  let el = $("#toast");
  if (!el) {
    el = h("div", { id: "toast", class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  el.textContent = text;
  el.classList.add("on");
  clearTimeout(el._timer);
  el._timer = setTimeout(() => el.classList.remove("on"), 4000);
}
