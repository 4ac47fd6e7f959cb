// Your account, /account: the picture hosts and brand admins show in the
// player and the studio, the brands you follow, your saved addresses and
// card (forget them here), and whether your first name may appear in the
// live room's "just bought" notices.
import { t, onChange } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, api, del, hasRole, uploadAvatar } from "./api.js";
import { start, onUser, requireLogin, currentUser } from "./shell.js";
import { picture } from "./media.js";
import { loadWallet, addressLine } from "./wallet.js";
import { followButton, redrawFollows } from "./follow.js";

const S = { follows: [], wallet: { addresses: [], method: null }, hide: false };

main();

async function main() {
  await start();
  $("#acct-login").addEventListener("click", () => requireLogin());
  $("#acct-avatar-file").addEventListener("change", changePicture);
  $("#acct-hide").addEventListener("change", setHide);
  onChange(() => { render(); redrawFollows(); });
  onUser(load);
  await load();
}

async function load() {
  const u = currentUser();
  $("#acct-gate").hidden = !!u;
  $("#acct").hidden = !u;
  if (!u) return;
  const [f, w, p] = await Promise.all([
    get("/api/me/follows").catch(() => ({ brands: [] })),
    loadWallet(),
    get("/api/me/privacy").catch(() => ({ privacy: { hide_purchases: false } })),
  ]);
  S.follows = f.brands;
  S.wallet = w;
  S.hide = !!p.privacy.hide_purchases;
  render();
}

function render() {
  const u = currentUser();
  if (!u) return;
  document.title = `${t("account.title")} · ${t("app.name")}`;
  $("#acct-picture").hidden = !(hasRole(u, "host") || hasRole(u, "brand_admin") || hasRole(u, "admin"));
  const av = clear($("#acct-avatar"));
  if (u.avatar_url) av.append(picture(u.avatar_url, { sizes: "72px", width: 72, height: 72, eager: true }));
  else av.textContent = (u.display_name || "·").charAt(0).toUpperCase();

  const fl = clear($("#acct-follows"));
  for (const b of S.follows) {
    fl.append(h("li", { class: "acct-row", "data-brand": b.id },
      h("a", { href: `/brands/${b.slug}`, text: b.name }), followButton(b)));
  }
  if (S.follows.length === 0) fl.append(h("li", { class: "muted", i18n: "account.follows.none" }));

  const al = clear($("#acct-addresses"));
  S.wallet.addresses.forEach((a, i) => {
    const line = addressLine(a);
    al.append(h("li", { class: "acct-row", "data-address": a.id },
      h("span", { text: line }), i === 0 ? h("span", { class: "tag", i18n: "account.default" }) : null,
      h("button", { type: "button", class: "secondary small", i18n: "account.delete", "aria-label": t("account.delete.of", { address: line }),
        onclick: () => forgetAddress(a) })));
  });
  if (S.wallet.addresses.length === 0) al.append(h("li", { class: "muted", i18n: "account.addresses.none" }));
  const card = clear($("#acct-card"));
  if (S.wallet.method) {
    card.append(h("span", { text: S.wallet.method.label + " " }),
      h("button", { type: "button", id: "acct-forget-card", class: "secondary small", i18n: "account.card.forget", onclick: forgetCard }));
  } else card.append(h("span", { class: "muted", i18n: "account.card.none" }));
  $("#acct-hide").checked = S.hide;
}

async function changePicture(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  const status = $("#acct-picture-status");
  status.textContent = t("account.picture.sending");
  try {
    const u = await uploadAvatar(file);
    Object.assign(currentUser(), u);
    status.textContent = t("account.picture.done");
  } catch (e) {
    status.textContent = e.text ? e.text() : String(e);
  }
  ev.target.value = "";
  render();
}

async function forgetAddress(a) {
  try {
    await del(`/api/me/addresses/${a.id}`);
  } catch { /* gone already: the reload shows it */ }
  await load();
}

async function forgetCard() {
  await del("/api/me/payment-method").catch(() => {});
  await load();
}

async function setHide(ev) {
  const want = ev.target.checked;
  try {
    await api("PUT", "/api/me/privacy", { hide_purchases: want });
    S.hide = want;
    $("#acct-privacy-status").textContent = t(want ? "account.privacy.hidden" : "account.privacy.shown");
  } catch (e) {
    ev.target.checked = S.hide;
    $("#acct-privacy-status").textContent = e.text ? e.text() : String(e);
  }
}
