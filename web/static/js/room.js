// The live-room websocket client (chat/PROTOCOL.md): one connection per show,
// reconnecting by itself and resuming from the last sequence number it
// applied, so a dropped connection loses no stock or pin events.
import { backoff } from "./dom.js";

export class Room {
  // handlers: welcome(frame), event(frame) for sequenced events,
  // frame(frame) for everything else, status("open"|"closed"|"banned"|"gone").
  constructor(showID, handlers) {
    this.showID = showID;
    this.h = handlers;
    this.epoch = "";
    this.seq = 0;
    this.ws = null;
    this.stopped = false;
    this.retry = backoff(10000);
    this.clockOffset = 0; // server time minus local time, ms
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    // v=2: the room's events come in batch frames, a tick at a time.
    let u = `${proto}//${location.host}/ws/shows/${this.showID}?v=2`;
    if (this.epoch) u += `&epoch=${encodeURIComponent(this.epoch)}&after=${this.seq}`;
    return u;
  }

  connect() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => { this.retry.reset(); this.h.status?.("open"); };
    ws.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      this.dispatch(f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 4003) { this.h.status?.("banned"); return; }
      // 4004: the show is no longer open to us (it became members-only).
      if (ev.code === 4004) { this.h.status?.("gone"); return; }
      this.h.status?.("closed");
      if (ev.code === 4001 || ev.code === 4002) {
        // The credential ended (4001) or the account changed (4002): the
        // page learns who it is now; a fresh connection (a new welcome, for
        // whoever that is) follows at once.
        window.dispatchEvent(new CustomEvent("pavilion:account", { detail: { code: ev.code } }));
        this.epoch = "";
        this.seq = 0;
        if (!this.stopped) this.connect();
        return;
      }
      if (!this.stopped) setTimeout(() => { if (!this.paused) this.connect(); }, this.retry.next());
    };
  }

  dispatch(f) {
    if (f.type === "batch") {
      // Each event as if it came alone; then the batch's seq, which counts
      // the chat the server left out on purpose ("skipped").
      for (const ev of f.events || []) this.dispatch(ev);
      if (typeof f.seq === "number" && f.seq > this.seq) this.seq = f.seq;
      return;
    }
    if (f.type === "welcome") {
      this.epoch = f.epoch;
      this.seq = f.seq;
      if (f.server_time) this.clockOffset = Date.parse(f.server_time) - Date.now();
      this.h.welcome?.(f);
      return;
    }
    if (f.type === "resumed") { this.epoch = f.epoch; return; }
    if (typeof f.seq === "number") {
      if (f.seq <= this.seq) return; // already applied
      this.seq = f.seq;
      if (f.server_time) this.clockOffset = Date.parse(f.server_time) - Date.now();
      this.h.event?.(f);
      return;
    }
    this.h.frame?.(f);
  }

  // now is the server's clock, for countdowns.
  now() {
    return Date.now() + this.clockOffset;
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // restart opens a fresh connection (a new welcome), for when the user
  // signed in or out: the server decides who you are at the handshake.
  restart() {
    const old = this.ws;
    this.ws = null;
    old?.close(1000);
    this.epoch = "";
    this.seq = 0;
    this.connect();
  }

  close() {
    this.stopped = true;
    this.ws?.close(1000);
  }

  // pause drops the connection as a network would and holds the reconnect
  // until resume, which resumes from the last event applied: for the
  // browser tests of a connection lost across a change (the show's end).
  pause() {
    this.paused = true;
    const ws = this.ws;
    this.ws = null; // its close is not a loss to reconnect from
    ws?.close(1000);
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    if (!this.stopped) this.connect();
  }
}

export const REACTIONS = [
  ["heart", "\u2764\uFE0F"], ["fire", "\uD83D\uDD25"], ["clap", "\uD83D\uDC4F"],
  ["wow", "\uD83D\uDE2E"], ["laugh", "\uD83D\uDE02"], ["bag", "\uD83D\uDECD\uFE0F"],
];
