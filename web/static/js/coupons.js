// Coupons on the player: the show's coupons as chips ("€50 off with
// LUMIERE50") that a tap claims for this show, and the checkout sheet's
// code field that quotes the discounted total before paying. The server
// decides everything (POST /api/coupons/quote, then the order itself); a
// claimed code is only remembered in this tab until the order takes it.
import { t, money } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, post, ApiError } from "./api.js";
import { toast } from "./shell.js";

const offOf = (c) => (c.kind === "percent" ? t("coupon.percent", { n: c.percent_off }) : money(c.amount_off_minor, c.currency));

// couponLabel is a coupon's one line: what it takes off and its code.
export function couponLabel(c) {
  return t("coupon.chip", { off: offOf(c), code: c.code });
}

// couponOff is what it takes off, without the code.
export function couponOff(c) {
  return t("coupon.off", { off: offOf(c) });
}

export class Coupons {
  constructor(showID) {
    this.showID = showID;
    this.list = [];
    this.key = `pavilion.coupon.${showID}`;
    this.claimed = sessionStorage.getItem(this.key) || "";
    this.quote = null;
    this.failed = ""; // the code the last quote refused
  }

  async load() {
    try {
      this.list = (await get(`/api/shows/${this.showID}/coupons`)).coupons;
    } catch {
      this.list = []; // a server without coupons, or a blip: no chips
    }
    this.render();
  }

  claim(code) {
    this.claimed = code;
    sessionStorage.setItem(this.key, code);
    toast(t("coupon.claimed", { code }));
    this.render();
    const input = $("#co-coupon");
    if (input && !input.value) input.value = code;
  }

  forget() {
    this.claimed = "";
    this.quote = null;
    sessionStorage.removeItem(this.key);
    this.render();
  }

  render() {
    const box = $("#coupons");
    if (!box) return;
    box.hidden = this.list.length === 0;
    const ul = clear($("#coupons-list"));
    for (const c of this.list) {
      const on = this.claimed === c.code;
      const min = c.min_basket_minor > 0 ? t("coupon.min", { amount: money(c.min_basket_minor, c.currency) }) : "";
      ul.append(h("li", {},
        h("button", { type: "button", class: "coupon-chip" + (on ? " claimed" : ""), "aria-pressed": on ? "true" : "false",
          "data-coupon": c.code, onclick: () => this.claim(c.code) },
        h("strong", { text: couponLabel(c) }),
        min ? h("span", { class: "muted", text: " · " + min }) : null,
        h("span", { class: "coupon-state", text: on ? t("coupon.claimed.short") : t("coupon.tap") }))));
    }
  }

  // prepare fills the sheet's code field with the claimed coupon and quotes it.
  async prepare(hold, render) {
    const input = $("#co-coupon");
    $("#co-coupon-msg").textContent = "";
    this.quote = null;
    this.failed = "";
    if (!hold || hold.price_minor === 0) { render(); return; } // a prize: nothing to take off
    if (this.claimed && !input.value) input.value = this.claimed;
    if (input.value.trim()) await this.apply(hold, render);
    else render();
  }

  // apply asks the server what the code takes off the hold's order.
  async apply(hold, render) {
    const code = $("#co-coupon").value.trim();
    const msg = $("#co-coupon-msg");
    this.quote = null;
    this.failed = "";
    msg.textContent = "";
    if (code) {
      try {
        this.quote = { ...(await post("/api/coupons/quote", { reservation_id: hold.id, code })).quote, reservation: hold.id };
        msg.textContent = t("coupon.applied", { code: this.quote.code, amount: money(this.quote.discount_minor, this.quote.currency) });
        msg.classList.remove("error");
      } catch (e) {
        msg.textContent = e instanceof ApiError ? e.text() : String(e);
        msg.classList.add("error");
        // A code that does not apply is not sent with the order (it pays
        // the full price), unless the buyer changes it.
        this.failed = code.toUpperCase();
      }
    }
    render();
  }

  // code is what the order sends: the field's code (the server decides
  // again, and answers a code that does not apply with why).
  code() {
    if (this.quote) return this.quote.code;
    const v = ($("#co-coupon")?.value || "").trim();
    return v.toUpperCase() === this.failed ? "" : v;
  }
}
