// Product cards for a show's offers: picture, name, show price, live stock,
// flash-drop window and the buy button. Shared by the player (buying) and
// the studio (pinning and drops).
import { t, money, clock } from "./i18n.js";
import { h } from "./dom.js";
import { skuLabel } from "./api.js";
import { picture, variantImage } from "./media.js";

// mergeOffer keeps one copy per offer in offers (a Map by id): v replaces
// the copy held only if it is as new or newer by as_of (when the server read
// it), so an older copy — a pin read before a sale and numbered after it, a
// page's REST snapshot — never overwrites newer stock or a newer drop
// window. It reports whether the offer was new to the map.
export function mergeOffer(offers, v) {
  const cur = offers.get(v.id);
  if (cur?.as_of && (!v.as_of || Date.parse(v.as_of) < Date.parse(cur.as_of))) return false;
  offers.set(v.id, { ...cur, ...v });
  return !cur;
}

// dropState says where an offer's flash-drop window is at server time now.
export function dropState(o, now) {
  if (!o.drop) return "none";
  const opens = o.drop_opens_at ? Date.parse(o.drop_opens_at) : null;
  const closes = o.drop_closes_at ? Date.parse(o.drop_closes_at) : null;
  if (opens === null || now < opens) return "pending";
  if (closes !== null && now >= closes) return "closed";
  return "open";
}

// stockText is what the card says about units left.
export function stockText(o) {
  if (o.available <= 0) return t("offer.soldout");
  if (o.available <= 5) return t("offer.few", { n: o.available });
  return t("offer.left", { n: o.available });
}

// card draws one offer. info: {product, sku} or undefined; opts.action is
// the button (or buttons) to put on it; opts.now is the server clock.
export function card(o, info, opts = {}) {
  const name = info?.product?.name || t("offer.unknown");
  const img = variantImage(info?.product, info?.sku);
  const ds = dropState(o, opts.now ?? Date.now());
  const soldOut = o.available <= 0;
  const regular = info?.sku && info.sku.price_minor > o.price_minor && info.sku.currency === o.currency
    ? h("s", { class: "was", text: money(info.sku.price_minor, o.currency) }) : null;
  let drop = null;
  if (ds === "pending") drop = h("p", { class: "drop pending", text: t("offer.drop.pending") });
  if (ds === "open") {
    const left = o.drop_closes_at ? Date.parse(o.drop_closes_at) - (opts.now ?? Date.now()) : 0;
    drop = h("p", { class: "drop open", text: t("offer.drop.open", { time: clock(left) }) });
  }
  if (ds === "closed") drop = h("p", { class: "drop closed", text: t("offer.drop.closed") });
  return h("article", { class: "offer" + (soldOut ? " soldout" : ""), "data-offer": o.id },
    picture(img, { sizes: opts.sizes || "96px", width: 96, height: 96 }),
    h("div", { class: "offer-body" },
      h("h3", { class: "offer-name", text: name }),
      info?.sku ? h("p", { class: "muted sku", text: skuLabel(info.sku) }) : null,
      h("p", { class: "price" }, h("span", { class: "now", text: money(o.price_minor, o.currency) }), " ", regular),
      h("p", { class: "stock" + (soldOut ? " out" : ""), "data-stock": o.available, text: stockText(o) }),
      o.sold > 0 ? h("p", { class: "sold", "data-sold": o.sold, text: t("offer.sold", { n: o.sold }) }) : null,
      drop,
      opts.action ? h("div", { class: "offer-actions" }, opts.action) : null,
    ),
  );
}
