// The brand console's coupons tab: the brand's coupons with what each has
// spent, a form for a new one (for one show or the whole brand) and a
// button to withdraw or restore one. The rules (codes, bounds, who may) are
// the server's; this page only shows its answers.
import { t, money, number, dateTime } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, post, patch } from "./api.js";
import { toast } from "./shell.js";
import { couponOff } from "./coupons.js";

// parse reads "50" or "49.90" as minor units of currency, without floats.
function parseMinor(text, currency) {
  const d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  const m = String(text).trim().match(/^(\d+)(?:[.,](\d+))?$/);
  if (!m || (m[2] || "").length > d) return null;
  return Number(m[1] + (m[2] || "").padEnd(d, "0"));
}

export class BrandCoupons {
  // ctx: brand() -> the chosen brand; shows() -> its shows.
  constructor(ctx) {
    this.ctx = ctx;
    this.list = [];
    $("#cp-form").addEventListener("submit", (ev) => this.create(ev));
    $("#cp-kind").addEventListener("change", () => this.renderKind());
    this.renderKind();
  }

  async load() {
    const b = this.ctx.brand();
    if (!b) return;
    try {
      this.list = (await get(`/api/brands/${b.id}/coupons`)).coupons;
    } catch (e) {
      this.list = [];
      toast(e.text ? e.text() : String(e));
    }
    this.render();
  }

  renderKind() {
    const pct = $("#cp-kind").value === "percent";
    $("#cp-value-l").textContent = t(pct ? "cp.percent" : "cp.amount");
    $("#cp-value").setAttribute("inputmode", pct ? "numeric" : "decimal");
  }

  renderShows() {
    const sel = $("#cp-show");
    const keep = sel.value;
    clear(sel).append(h("option", { value: "", i18n: "cp.allshows" }));
    for (const s of this.ctx.shows().filter((s) => s.state === "scheduled" || s.state === "live")) {
      sel.append(h("option", { value: s.id, text: `${s.title} · ${dateTime(s.starts_at)}` }));
    }
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }

  render() {
    this.renderShows();
    const shows = new Map(this.ctx.shows().map((s) => [s.id, s.title]));
    const tb = clear($("#cp-rows"));
    for (const c of this.list.filter((c) => !c.issued_to)) {
      const bound = (n, max) => (max ? `${n} / ${max}` : String(n));
      tb.append(h("tr", { "data-coupon": c.code },
        h("td", {}, h("strong", { text: c.code })),
        h("td", { text: couponOff(c) }),
        h("td", { text: c.show_id ? shows.get(c.show_id) || c.show_id.slice(0, 8) : t("cp.allshows") }),
        h("td", { text: c.min_basket_minor ? money(c.min_basket_minor, c.currency) : "–" }),
        h("td", { text: c.per_customer ? number(c.per_customer) : "–" }),
        h("td", { text: bound(number(c.uses), c.max_uses ? number(c.max_uses) : "") }),
        h("td", { text: bound(money(c.spent_minor, c.currency), c.budget_minor ? money(c.budget_minor, c.currency) : "") }),
        h("td", { text: c.ends_at ? dateTime(c.ends_at) : "–" }),
        h("td", { class: c.disabled ? "state-cancelled" : "state-paid", text: t(c.disabled ? "cp.off" : "cp.on") }),
        h("td", {}, h("button", { type: "button", class: "secondary small", i18n: c.disabled ? "cp.enable" : "cp.disable",
          "aria-label": t(c.disabled ? "cp.enable.of" : "cp.disable.of", { code: c.code }), onclick: () => this.toggle(c) }))));
    }
    if (tb.children.length === 0) tb.append(h("tr", {}, h("td", { colspan: 10, class: "muted", i18n: "common.none" })));
  }

  async toggle(c) {
    try {
      await patch(`/api/coupons/${c.id}`, { disabled: !c.disabled });
      await this.load();
    } catch (e) { toast(e.text ? e.text() : String(e)); }
  }

  async create(ev) {
    ev.preventDefault();
    const err = $("#cp-error");
    err.textContent = "";
    const cur = $("#cp-cur").value.trim().toUpperCase();
    const kind = $("#cp-kind").value;
    const money = (id) => ($(id).value.trim() ? parseMinor($(id).value, cur) : 0);
    const body = {
      code: $("#cp-code").value.trim(), kind, currency: cur,
      min_basket_minor: money("#cp-min"), budget_minor: money("#cp-budget"),
      per_customer: Number($("#cp-per").value || 0), max_uses: Number($("#cp-max").value || 0),
    };
    if (kind === "percent") body.percent_off = Number($("#cp-value").value);
    else body.amount_off_minor = money("#cp-value");
    if ([body.min_basket_minor, body.budget_minor, body.amount_off_minor].includes(null)) { err.textContent = t("cp.badmoney"); return; }
    if ($("#cp-show").value) body.show_id = $("#cp-show").value;
    if ($("#cp-ends").value) body.ends_at = new Date($("#cp-ends").value).toISOString();
    try {
      await post(`/api/brands/${this.ctx.brand().id}/coupons`, body);
      $("#cp-code").value = "";
      toast(t("cp.made", { code: body.code.toUpperCase() }));
      await this.load();
    } catch (e) { err.textContent = e.text ? e.text() : String(e); }
  }
}
