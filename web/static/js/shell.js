// The frame every page shares: skip link, top bar with the language switch
// and the account menu, and the log-in / sign-up dialog.
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { api, me, ApiError, hasRole } from "./api.js";

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
export async function start() {
  await i18n.init();
  user = await me().catch(() => null);
  drawTop();
  i18n.onChange(() => renderAccount());
  return user;
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
  if (hasRole(user, "brand_admin") || hasRole(user, "admin")) nav.append(h("a", { href: "/brand", i18n: "nav.brand" }));
  clear(acct);
  if (user) {
    acct.append(
      h("span", { class: "who", text: user.display_name }),
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
