// The studio's co-host panel: invite a guest (a one-time link to their own
// studio page, /studio/{id}/guest), see whether they joined and are on air,
// remove them at once, and pick how the player lays the two streams out.
// The live room's "stage" events keep it current.
import { t } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { api, get, post, del } from "./api.js";
import { toast } from "./shell.js";

export class StudioCoHost {
  constructor(showID) {
    this.showID = showID;
    this.guests = [];
    this.stage = null;
    this.wired = false;
  }

  async load() {
    if (!this.wired) this.wire();
    try {
      const [g, s] = await Promise.all([get(`/api/shows/${this.showID}/guests`), get(`/api/shows/${this.showID}/stage`)]);
      this.guests = g.guests || [];
      this.apply(s.stage);
    } catch (e) {
      if (e.status === 501) { $("#cohost-panel").hidden = true; return; }
      toast(e.text());
    }
    this.render();
  }

  wire() {
    this.wired = true;
    $("#cohost-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = $("#cohost-name").value.trim();
      if (!name) return;
      try {
        const r = await post(`/api/shows/${this.showID}/guests`, { name });
        $("#cohost-name").value = "";
        $("#cohost-link").value = r.invite_url;
        $("#cohost-invite").hidden = false;
        await this.load();
      } catch (e) { toast(e.text()); }
    });
    $("#cohost-copy").addEventListener("click", () => {
      navigator.clipboard?.writeText($("#cohost-link").value).then(() => toast(t("cohost.copied")), () => $("#cohost-link").select());
    });
    $("#cohost-layout").addEventListener("change", async (ev) => {
      try {
        this.apply((await api("PUT", `/api/shows/${this.showID}/stage`, { layout: ev.target.value })).stage);
      } catch (e) { toast(e.text()); this.render(); }
    });
  }

  // apply takes a stage from the API or a stage event, unless it is older.
  apply(stage) {
    if (!stage || (this.stage && stage.rev < this.stage.rev)) return;
    this.stage = stage;
    this.render();
  }

  // event handles the room's stage events (a guest joining or leaving
  // changes the list's on-air marks).
  event(f) {
    this.apply(f.stage);
    if (f.change !== "layout") this.load();
  }

  async remove(g) {
    try {
      await del(`/api/shows/${this.showID}/guests/${g.id}`);
      $("#cohost-invite").hidden = true;
      await this.load();
    } catch (e) { toast(e.text()); }
  }

  render() {
    if (this.stage) $("#cohost-layout").value = this.stage.layout;
    const onAir = this.stage?.guest_id || null;
    const list = clear($("#cohost-list"));
    const current = this.guests.filter((g) => g.status === "invited" || g.status === "joined");
    for (const g of current) {
      const state = g.id === onAir ? "cohost.onair" : "cohost.status." + g.status;
      list.append(h("li", { class: "cohost-guest", "data-guest": g.id },
        h("span", { class: "cohost-guest-name", text: g.name }),
        h("span", { class: "badge" + (g.id === onAir ? " live" : ""), i18n: state }),
        h("button", { type: "button", class: "danger", i18n: g.status === "invited" ? "cohost.withdraw" : "cohost.remove", onclick: () => this.remove(g) })));
    }
    if (current.length === 0) list.append(h("li", { class: "muted", i18n: "cohost.none" }));
    $("#cohost-form").hidden = current.length > 0; // one guest at a time
  }
}
