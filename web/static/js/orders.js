// Your orders, /orders: every order of the signed-in viewer, newest first,
// with the product's picture and variant, the show it was bought in, its
// state, and a cancel button while the order can still be cancelled (paid,
// not shipped).
import { t, money, dateTime, onChange } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, post, productIndex, skuLabel } from "./api.js";
import { start, onUser, requireLogin, currentUser } from "./shell.js";
import { picture, variantImage } from "./media.js";

const S = { orders: [], products: new Map(), shows: new Map(), loaded: false };

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
        h("span", { class: "state state-" + o.state, "data-state": o.state, text: t("order.state." + o.state) }),
        o.state === "paid" ? h("button", { type: "button", class: "secondary small", "data-cancel": o.id, i18n: "orders.cancel",
          "aria-label": t("orders.cancel.of", { name }), onclick: () => cancel(o, name) }) : null)));
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
