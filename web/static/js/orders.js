// Your orders, /orders: every order of the signed-in viewer, newest first,
// with the product's picture and variant, the show it was bought in, its
// state, and a cancel button while the order can still be cancelled (paid,
// not shipped), and "buy again": the same offer held again and paid in one
// confirmation with the saved address and card, or finished in the show's
// checkout sheet when the wallet lacks one of them.
import { t, money, dateTime, onChange } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, post, del, productIndex, skuLabel } from "./api.js";
import { start, onUser, requireLogin, currentUser } from "./shell.js";
import { picture, variantImage } from "./media.js";
import { loadWallet, addressLine } from "./wallet.js";

const S = { orders: [], products: new Map(), shows: new Map(), loaded: false, busy: false };

main();

async function main() {
  await start();
  $("#orders-login").addEventListener("click", () => requireLogin());
  onChange(render);
  onUser(load);
  await load();
}

async function load() {
  if (!currentUser()) {
    S.orders = [];
    S.loaded = true;
    render();
    return;
  }
  const { orders } = await get("/api/orders?limit=200");
  S.orders = orders;
  // Names and pictures: one catalogue read per brand, one show read per show.
  await Promise.all([...new Set(orders.map((o) => o.brand_id))].map(async (b) => {
    try {
      for (const [k, v] of (await productIndex(b)).bySKU) S.products.set(k, v);
    } catch { /* drawn without the picture */ }
  }));
  await Promise.all([...new Set(orders.map((o) => o.show_id))].map(async (id) => {
    try { S.shows.set(id, (await get(`/api/shows/${id}`)).show); } catch { /* a show no longer visible */ }
  }));
  S.loaded = true;
  render();
}

function render() {
  document.title = `${t("orders.title")} · ${t("app.name")}`;
  const signedIn = !!currentUser();
  $("#orders-gate").hidden = signedIn;
  $("#orders-empty").hidden = !signedIn || !S.loaded || S.orders.length > 0;
  const ul = clear($("#orders"));
  for (const o of S.orders) {
    const info = S.products.get(o.sku_id);
    const name = info?.product?.name || t("offer.unknown");
    const sh = S.shows.get(o.show_id);
    ul.append(h("li", { class: "order-card", "data-order": o.id },
      picture(variantImage(info?.product, info?.sku), { sizes: "80px", width: 80, height: 80 }),
      h("div", { class: "order-body" },
        h("h2", { class: "order-name", text: name }),
        h("p", { class: "muted small-text", text: [info?.sku ? skuLabel(info.sku) : "", t("orders.qty", { n: o.quantity })].filter(Boolean).join(" · ") }),
        sh ? h("p", { class: "small-text" }, h("a", { href: `/shows/${o.show_id}`, text: sh.title })) : null,
        h("p", { class: "muted small-text", text: t("orders.placed", { when: dateTime(o.created_at), id: o.id.slice(0, 8) }) })),
      h("div", { class: "order-side" },
        h("strong", { text: money(o.total_minor, o.currency) }),
        o.coupon_code ? h("span", { class: "muted small-text", "data-coupon": o.coupon_code,
          text: t("orders.coupon", { code: o.coupon_code, amount: money(o.discount_minor, o.currency) }) }) : null,
        h("span", { class: "state state-" + o.state, "data-state": o.state, text: t("order.state." + o.state) }),
        o.state === "paid" ? h("button", { type: "button", class: "secondary small", "data-cancel": o.id, i18n: "orders.cancel",
          "aria-label": t("orders.cancel.of", { name }), onclick: () => cancel(o, name) }) : null,
        h("button", { type: "button", class: "primary small", "data-again": o.id, i18n: "orders.again",
          "aria-label": t("orders.again.of", { name }), disabled: S.busy, onclick: () => buyAgain(o, name) }))));
  }
}

async function cancel(o, name) {
  if (!confirm(t("orders.cancel.confirm", { name }))) return;
  try {
    const { order } = await post(`/api/orders/${o.id}/cancel`);
    Object.assign(o, order);
    $("#orders-status").textContent = t("orders.cancelled", { name });
  } catch (e) {
    $("#orders-status").textContent = e.text ? e.text() : String(e);
  }
  render();
  $("#orders-status").classList.toggle("sr-only", false);
}

function say(text) {
  $("#orders-status").textContent = text;
  $("#orders-status").classList.toggle("sr-only", false);
}

// buyAgain holds the order's offer again. With a saved address and card it
// pays after one confirmation; otherwise the show's checkout sheet takes
// over with the hold.
async function buyAgain(o, name) {
  if (S.busy) return;
  S.busy = true;
  render();
  try {
    const wallet = await loadWallet();
    const { reservation: r } = await post("/api/reservations", { offer_id: o.offer_id, quantity: o.quantity }, { "Idempotency-Key": crypto.randomUUID() });
    const addr = wallet.addresses[0];
    if (!addr || !wallet.method) {
      location.assign(`/shows/${o.show_id}?checkout=${r.id}`);
      return;
    }
    const total = money(r.price_minor * r.quantity, r.currency);
    if (!confirm(t("orders.again.confirm", { name, total, card: wallet.method.label, address: addressLine(addr) }))) {
      await del(`/api/reservations/${r.id}`).catch(() => {});
      return;
    }
    let { order } = await post("/api/orders", { reservation_id: r.id, address_id: addr.id, use_saved_payment: true }, { "Idempotency-Key": crypto.randomUUID() });
    for (let i = 0; order.state === "pending" && i < 20; i++) {
      say(t("co.confirming"));
      await new Promise((ok) => setTimeout(ok, 1500));
      order = (await get(`/api/orders/${order.id}`)).order;
    }
    S.orders.unshift(order);
    say(t(order.state === "paid" ? "orders.again.done" : "orders.again.pending", { name, total, id: order.id.slice(0, 8) }));
  } catch (e) {
    say(e.text ? e.text() : String(e));
  } finally {
    S.busy = false;
    render();
  }
}
