// Fair draws on the player: "Enter the draw" while a draw is open, the
// entered state, and the result (won: the hold is in the bag; not drawn).
// The room announces draws (a `draw` event); a page that joins later reads
// them from the API. Entering is one POST; the server keeps one entry per
// account, so a second tap answers with the same entry.
import { t, clock } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, post, ApiError } from "./api.js";
import { requireLogin, currentUser, toast } from "./shell.js";
import { couponLabel } from "./coupons.js";

// whoSelect is the "who may enter" picker of a giveaway.
const whoSelect = (id, cls) => h("select", { id, class: cls },
  ...["everyone", "followers", "members"].map((v) => h("option", { value: v, text: t("studio.giveaway.who." + v) })));

export class Draws {
  // opts: name(offerID) -> the product's name; now() -> server clock (ms);
  // won() -> called when one of the viewer's entries wins (reload holds).
  constructor(showID, opts) {
    this.showID = showID;
    this.opts = opts;
    this.draws = new Map(); // id -> record, newest state
    this.entries = new Map(); // draw id -> the viewer's entry
    this.busy = new Set();
  }

  // load reads the show's draws (a welcome, a new user) and the viewer's entries in those still open.
  async load() {
    try {
      const { draws } = await get(`/api/shows/${this.showID}/draws`);
      this.draws.clear();
      for (const d of draws.slice(0, 5)) this.draws.set(d.id, d);
    } catch {
      return; // an older server, or a network blip: the next event brings them
    }
    this.entries.clear();
    if (currentUser()) {
      await Promise.all([...this.draws.values()].map((d) => this.loadEntry(d.id)));
    }
    this.render();
  }

  async loadEntry(id) {
    try {
      const { entry } = await get(`/api/shows/${this.showID}/draws/${id}/entry`);
      this.entries.set(id, entry);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
  }

  // event takes a room `draw` event.
  async event(f) {
    const d = f.draw;
    this.draws.set(d.id, d);
    const mine = this.entries.get(d.id);
    if (d.state === "drawn" && mine) {
      await this.loadEntry(d.id).catch(() => {});
      if (d.winners?.includes(mine.id)) {
        toast(t(d.prize_coupon_id ? "giveaway.won.coupon" : d.giveaway ? "giveaway.won" : "draw.won"));
        this.opts.won(d);
      }
    }
    this.render();
  }

  async enter(d) {
    if (!currentUser()) { requireLogin(); return; }
    if (this.busy.has(d.id)) return;
    this.busy.add(d.id);
    this.render();
    try {
      const { entry } = await post(`/api/shows/${this.showID}/draws/${d.id}/entry`);
      this.entries.set(d.id, entry);
    } catch (e) {
      toast(e instanceof ApiError ? e.text() : String(e));
    } finally {
      this.busy.delete(d.id);
      this.render();
    }
  }

  render() {
    const box = $("#draws");
    if (!box) return;
    const list = [...this.draws.values()].filter((d) => d.state !== "drawn" || this.entries.has(d.id) || this.recent(d));
    box.hidden = list.length === 0;
    const ul = clear($("#draws-list"));
    const now = this.opts.now();
    for (const d of list) ul.append(this.row(d, now));
  }

  // recent: a result stays up for ten minutes for viewers who did not enter.
  recent(d) {
    return d.drawn_at && this.opts.now() - Date.parse(d.drawn_at) < 10 * 60 * 1000;
  }

  row(d, now) {
    const name = this.opts.name(d.offer_id);
    const mine = this.entries.get(d.id);
    const li = h("li", { class: "draw-row", "data-draw": d.id, "data-state": d.state });
    const g = d.giveaway;
    li.append(h("strong", { text: t(g ? "giveaway.title" : "draw.title", { name }) }));
    if (d.eligibility && d.eligibility !== "everyone") li.append(h("span", { class: "muted small-text", text: t("giveaway.for." + d.eligibility) }));
    if (d.state === "open") {
      const left = Date.parse(d.closes_at) - now;
      li.append(h("span", { class: "muted", text: t(g ? "giveaway.open" : "draw.open", { n: d.units, time: clock(Math.max(0, left)) }) }));
      if (mine) {
        li.append(h("span", { class: "draw-entered", role: "status", text: t("draw.entered") }));
      } else {
        li.append(h("button", { type: "button", class: "primary draw-enter", disabled: this.busy.has(d.id) || left <= 0,
          text: t(g ? "giveaway.enter" : "draw.enter"), onclick: () => this.enter(d) }));
      }
    } else if (d.state === "closing") {
      li.append(h("span", { class: "muted", role: "status", text: t("draw.drawing") }));
    } else {
      let key = "draw.result";
      if (mine) key = d.winners?.includes(mine.id) ? (d.prize_coupon_id ? "giveaway.youwon.coupon" : g ? "giveaway.youwon" : "draw.youwon") : "draw.notdrawn";
      li.append(h("span", { class: "draw-result", role: "status",
        text: t(key, { n: d.winners?.length ?? 0, m: d.entry_count }) }));
      li.append(h("a", { class: "link", href: `/api/shows/${this.showID}/draws/${d.id}`, target: "_blank", rel: "noopener",
        text: t("draw.verify") }));
    }
    return li;
  }

  // tick moves the countdowns of open draws.
  tick() {
    if ([...this.draws.values()].some((d) => d.state === "open")) this.render();
  }
}

// StudioDraws is the studio's side: open a draw on an offer (for the window
// the drop-length picker says), see its entries and close it early; and the
// giveaway form, whose prize is an offer at price 0 or one of the brand's
// coupons.
export class StudioDraws {
  // opts: seconds() -> the chosen window; now() -> server clock (ms); changed() -> re-render.
  constructor(showID, opts) {
    this.showID = showID;
    this.opts = opts;
    this.byOffer = new Map(); // offer id -> its latest draw
    this.coupons = []; // the brand's coupons a giveaway may give away here
    this.formKey = "";
  }

  async load() {
    try {
      this.coupons = (await get(`/api/shows/${this.showID}/prize-coupons`)).coupons;
    } catch {
      this.coupons = []; // a server without coupons: prize offers only
    }
    try {
      const { draws } = await get(`/api/shows/${this.showID}/draws`);
      this.byOffer.clear();
      for (const d of draws.slice().reverse()) this.byOffer.set(d.offer_id, d);
    } catch {
      return;
    }
    this.opts.changed();
  }

  event(f) {
    this.byOffer.set(f.draw.offer_id, f.draw);
    this.opts.changed();
  }

  async open(o) {
    const body = { offer_id: o.id, seconds: this.opts.seconds() };
    if (o.price_minor === 0) {
      // A prize: a giveaway of the chosen number of winners, to the chosen viewers.
      body.giveaway = true;
      body.units = Number(document.getElementById(`gw-n-${o.id}`)?.value || 1);
      body.eligibility = document.getElementById(`gw-who-${o.id}`)?.value || "everyone";
    }
    await this.start(body);
  }

  async start(body) {
    try {
      const { draw } = await post(`/api/shows/${this.showID}/draws`, body);
      this.byOffer.set(body.offer_id, draw);
      toast(t(body.giveaway ? "studio.giveaway.opened" : "studio.draw.opened"));
    } catch (e) { toast(e instanceof ApiError ? e.text() : String(e)); }
    this.opts.changed();
  }

  // renderForm fills the giveaway form: the prize (an offer at price 0, or
  // a brand coupon), for a coupon the offer it is about (where viewers see
  // it), the winners and who may enter. It is rebuilt only when the prizes
  // change, so a half-filled form survives the cards' updates.
  renderForm(form, offers, name) {
    const prizes = offers.filter((o) => o.price_minor === 0);
    const about = offers.filter((o) => o.price_minor > 0);
    const coupons = about.length ? this.coupons : [];
    const key = JSON.stringify([prizes.map((o) => [o.id, name(o)]), about.map((o) => [o.id, name(o)]), coupons.map((c) => c.id)]);
    if (key === this.formKey) return;
    this.formKey = key;
    clear(form);
    form.hidden = !prizes.length && !coupons.length;
    if (form.hidden) return;
    const prize = h("select", { id: "gw-prize" },
      prizes.length ? h("optgroup", { label: t("studio.giveaway.prizes") }, ...prizes.map((o) => h("option", { value: "offer:" + o.id, text: name(o) }))) : null,
      coupons.length ? h("optgroup", { label: t("studio.giveaway.coupons") }, ...coupons.map((c) => h("option", { value: "coupon:" + c.id, "data-coupon": c.code, text: couponLabel(c) }))) : null);
    const aboutField = h("div", { class: "field" }, h("label", { for: "gw-about", i18n: "studio.giveaway.about" }),
      h("select", { id: "gw-about" }, ...about.map((o) => h("option", { value: o.id, text: name(o) }))));
    const sync = () => { aboutField.hidden = !prize.value.startsWith("coupon:"); };
    prize.addEventListener("change", sync);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const body = { seconds: this.opts.seconds(), giveaway: true, units: Number($("#gw-units").value || 1), eligibility: $("#gw-who").value };
      const [kind, id] = prize.value.split(":");
      if (kind === "coupon") Object.assign(body, { coupon_id: id, offer_id: $("#gw-about").value });
      else body.offer_id = id;
      this.start(body);
    };
    form.append(h("h3", { i18n: "studio.giveaway.title" }),
      h("div", { class: "field" }, h("label", { for: "gw-prize", i18n: "studio.giveaway.prize" }), prize),
      aboutField,
      h("div", { class: "field" }, h("label", { for: "gw-units", i18n: "studio.giveaway.winners" }),
        h("input", { id: "gw-units", type: "number", min: 1, max: 10000, value: 1, class: "gw-n" })),
      h("div", { class: "field" }, h("label", { for: "gw-who", i18n: "studio.giveaway.who" }), whoSelect("gw-who", "gw-who")),
      h("button", { type: "submit", class: "primary", id: "gw-start", i18n: "studio.giveaway.start" }));
    sync();
  }

  async close(d) {
    try {
      const { draw } = await post(`/api/shows/${this.showID}/draws/${d.id}/close`);
      this.byOffer.set(d.offer_id, draw);
    } catch (e) { toast(e instanceof ApiError ? e.text() : String(e)); }
    this.opts.changed();
  }

  // tools returns the offer's draw controls and status, for its card.
  tools(o) {
    const d = this.byOffer.get(o.id);
    if (d && d.state !== "drawn") {
      const left = Date.parse(d.closes_at) - this.opts.now();
      return [
        h("button", { type: "button", class: "secondary small", "data-draw": o.id, i18n: "studio.draw.close", onclick: () => this.close(d) }),
        h("span", { class: "muted small-text", role: "status", text: t("studio.draw.running", { n: d.entry_count, time: clock(Math.max(0, left)) }) }),
      ];
    }
    const out = [];
    if (o.price_minor === 0) {
      out.push(
        h("label", { class: "small-text", for: `gw-n-${o.id}`, text: t("studio.giveaway.winners") }),
        h("input", { id: `gw-n-${o.id}`, type: "number", min: 1, max: Math.max(1, o.available), value: 1, class: "gw-n" }),
        h("label", { class: "sr-only", for: `gw-who-${o.id}`, text: t("studio.giveaway.who") }),
        whoSelect(`gw-who-${o.id}`, "gw-who"),
        h("button", { type: "button", class: "primary small", "data-draw": o.id, i18n: "studio.giveaway.start", onclick: () => this.open(o) }));
    } else {
      out.push(h("button", { type: "button", class: "secondary small", "data-draw": o.id, i18n: "studio.draw.open", onclick: () => this.open(o) }));
    }
    if (d) out.push(h("span", { class: "muted small-text", text: t("studio.draw.drawn", { n: d.winners?.length ?? 0, m: d.entry_count }) }));
    return out;
  }

  running() {
    return [...this.byOffer.values()].some((d) => d.state !== "drawn");
  }
}
