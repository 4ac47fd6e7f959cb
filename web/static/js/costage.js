// The co-host stage in the player: while the show has a guest on air, the
// guest's video and audio play beside the host's, laid out as the host
// picked (side by side, picture in picture, or the guest full and the host
// small). The stage comes from GET /api/shows/{id}/stage and then from the
// live room's "stage" events; of two copies the higher rev wins, so a late
// answer never undoes a newer event. The guest feed is a second WHEP
// session, /whep/{show}?guest=1, opened when a guest is on and closed when
// they leave.
import { get } from "./api.js";
import { h, sleep } from "./dom.js";
import { watch, hangUp } from "./rtc.js";

const LAYOUTS = ["side-by-side", "pip", "guest-full"];

export class CoStage {
  // wrap is the player's video box; host its <video>, whose muted state
  // the guest's follows (the page's one unmute button).
  constructor(showID, wrap, host) {
    this.showID = showID;
    this.wrap = wrap;
    this.host = host;
    this.rev = -1;
    this.guest = null;   // the guest on air: {id, name}
    this.session = null; // the guest feed's WHEP session
    this.gen = 0;        // bumps whenever the guest changes: a stale connect gives up
    this.video = h("video", { id: "guest-video", autoplay: true, playsinline: true });
    this.video.muted = true;
    this.label = h("span", { class: "guest-name", hidden: true });
    // The guest's picture with their name on it, as one box the layouts
    // place; right after the host's video, so the player's overlay and bars
    // stay on top.
    this.box = h("div", { class: "guest-box", hidden: true }, this.video, this.label);
    host.after(this.box);
  }

  // load reads the stage once (the room's events keep it current after).
  async load() {
    try {
      this.apply((await get(`/api/shows/${this.showID}/stage`)).stage);
    } catch { /* no co-hosts on this server: the player shows the host only */ }
  }

  // apply takes a stage from the API or a stage event, unless it is older.
  apply(stage) {
    if (!stage || stage.rev < this.rev) return;
    this.rev = stage.rev;
    const layout = LAYOUTS.includes(stage.layout) ? stage.layout : LAYOUTS[0];
    const id = stage.guest_id || null;
    if (id !== (this.guest?.id ?? null)) {
      this.gen++;
      this.guest = id ? { id, name: stage.guest_name || "" } : null;
      this.disconnect();
      if (id) this.connect(this.gen);
    }
    this.label.textContent = this.guest?.name || "";
    this.render(layout);
  }

  render(layout) {
    const on = !!this.guest && !!this.video.srcObject;
    this.wrap.dataset.layout = on ? layout : "";
    this.wrap.classList.toggle("costage", on);
    this.box.hidden = !on;
    this.label.hidden = !this.label.textContent;
    // The small picture is painted over the full one: it comes later.
    if (layout === "guest-full") this.host.before(this.box);
    else this.host.after(this.box);
    this.layout = layout;
  }

  // connect opens the guest feed, retrying while this guest is on air: a
  // guest who just joined may have no media yet (503), and a relay node
  // may need a moment to pull it.
  async connect(gen) {
    for (let wait = 500; gen === this.gen; wait = Math.min(wait * 2, 5000)) {
      try {
        // The guest feed is the show's URL with ?guest=1 (rtc.js puts the id in the path).
        const s = await watch(`${this.showID}?guest=1`, (stream) => {
          if (gen !== this.gen) return;
          this.video.srcObject = stream;
          this.video.muted = this.host.muted;
          this.video.play().catch(() => {});
          this.render(this.layout);
        });
        if (gen !== this.gen) { hangUp(s); return; }
        this.session = s;
        s.pc.addEventListener("connectionstatechange", () => {
          if (["failed", "closed"].includes(s.pc.connectionState) && this.session === s && gen === this.gen) {
            this.disconnect();
            this.connect(gen); // the guest is still on stage: a new session
          }
        });
        return;
      } catch {
        await sleep(wait);
      }
    }
  }

  disconnect() {
    const s = this.session;
    this.session = null;
    if (s) hangUp(s);
    this.video.srcObject = null;
    this.render(this.layout);
  }

  // setMuted follows the page's unmute button.
  setMuted(muted) {
    this.video.muted = muted;
    if (!muted && this.video.srcObject) this.video.play().catch(() => {});
  }

  close() {
    this.gen++;
    this.guest = null;
    this.disconnect();
  }
}
