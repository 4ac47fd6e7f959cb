// The co-host stage in the player: while the show has a guest on air, the
// guest's video and audio play beside the host's, laid out as the host
// picked (side by side, picture in picture, or the guest full and the host
// small). The stage comes from GET /api/shows/{id}/stage and then from the
// live room's "stage" events; of two copies the higher rev wins, so a late
// answer never undoes a newer event. The guest feed is a second WHEP
// session, /whep/{show}?guest=1, opened when a guest is on and closed when
// they leave. After the show, ReplayStage plays the guest's recording
// beside the replay's, laid out by the timeline's stage marks.
import { get } from "./api.js";
import { h, sleep } from "./dom.js";
import { watch, hangUp } from "./rtc.js";

const LAYOUTS = ["side-by-side", "pip", "guest-full"];

// layOut places the guest's box beside the host's video as the layout says
// (base.css draws each layout); on: the guest is shown at all. The live
// stage and the replay's use it alike.
function layOut(wrap, host, box, on, layout) {
  wrap.dataset.layout = on ? layout : "";
  wrap.classList.toggle("costage", on);
  box.hidden = !on;
  // The small picture is painted over the full one: it comes later.
  if (layout === "guest-full") host.before(box);
  else host.after(box);
}

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
    layOut(this.wrap, this.host, this.box, on, layout);
    this.label.hidden = !this.label.textContent;
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

// stageAt is the replay's stage at offset ms of its timeline: whether the
// guest is on air and the layout, from the stage's marks (guest_joined,
// layout, guest_left) up to then; before any, the host alone.
export function stageAt(timeline, ms) {
  let on = false, layout = LAYOUTS[0];
  for (const m of timeline) {
    if (m.at_ms > ms) break;
    if (m.type === "guest_joined") on = true;
    else if (m.type === "guest_left") on = false;
    else if (m.type !== "layout") continue;
    if (LAYOUTS.includes(m.layout)) layout = m.layout;
  }
  return { on, layout };
}

// ReplayStage plays the guest's recording of a replay beside the host's
// video, kept in step with it: the host's <video> (and its controls) leads;
// the guest's follows its plays, pauses, seeks, rate and volume, and is
// nudged back when it drifts (its rate a little off for a small drift, a
// seek for a large one). The layout follows the timeline's stage marks as
// the live player followed the stage. guest is the replay's guest
// ({url, offset_ms, duration_ms}): its file at t plays with the host's at
// t + offset_ms.
export class ReplayStage {
  constructor(wrap, host, guest, timeline) {
    this.wrap = wrap;
    this.host = host;
    this.guest = guest;
    this.timeline = timeline;
    this.video = h("video", { id: "guest-video", playsinline: true, preload: "auto" });
    this.video.src = guest.url;
    this.box = h("div", { class: "guest-box", hidden: true }, this.video);
    host.after(this.box);
    this.shown = "";
    const sync = () => this.sync();
    for (const ev of ["play", "playing", "pause", "seeking", "seeked", "timeupdate", "ratechange", "volumechange", "waiting", "ended"]) {
      host.addEventListener(ev, sync);
    }
    // timeupdate comes about four times a second while playing; drift is
    // checked as often.
    this.video.addEventListener("loadedmetadata", sync);
    sync();
  }

  sync() {
    const host = this.host, v = this.video, g = this.guest;
    const ms = host.currentTime * 1000;
    const at = ms - g.offset_ms; // in the guest's file
    const inFile = at >= 0 && at < g.duration_ms;
    const st = stageAt(this.timeline, ms);
    const on = st.on && inFile;
    const shown = on ? st.layout : "";
    if (shown !== this.shown) {
      layOut(this.wrap, host, this.box, on, st.layout);
      this.shown = shown;
    }
    v.muted = host.muted;
    v.volume = host.volume;
    if (!inFile || v.readyState < 1) {
      if (!v.paused) v.pause();
      return;
    }
    const drift = v.currentTime - at / 1000; // s; > 0: the guest is ahead
    const still = host.paused || host.seeking || host.ended || host.readyState < 3;
    if (still) {
      if (!v.paused) v.pause();
      if (Math.abs(drift) > 0.05) v.currentTime = at / 1000;
      v.playbackRate = host.playbackRate;
      return;
    }
    if (Math.abs(drift) > 0.4) {
      v.currentTime = at / 1000;
      v.playbackRate = host.playbackRate;
    } else if (Math.abs(drift) > 0.08) {
      v.playbackRate = host.playbackRate * (drift > 0 ? 0.92 : 1.08);
    } else {
      v.playbackRate = host.playbackRate;
    }
    if (v.paused) v.play().catch(() => {});
  }
}
