// The studio, /studio/{id}: the host's camera and microphone, going live
// over WHIP from the browser (or the key and URL for OBS), pinning products,
// flash drops, chat moderation and a live panel.
import { t, money, number, time, showWhen, onChange } from "./i18n.js";
import { h, $, clear, sleep } from "./dom.js";
import { get, post, ApiError, productIndex } from "./api.js";
import { start, onUser, openLogin, currentUser, toast } from "./shell.js";
import { Room } from "./room.js";
import { publish, hangUp } from "./rtc.js";
import { card, dropState, mergeOffer } from "./offers.js";
import { StudioDraws } from "./draws.js";
import { lineChart } from "./chart.js";
import { StudioCoHost } from "./cohost.js";

const showID = location.pathname.split("/")[2];
const S = {
  show: null, offers: new Map(), order: [], pinned: null, products: new Map(), viewers: 0, chat: [],
  you: null, stats: null, statsMissing: false, samples: [], live: "off",
};
let room = null;
let local = null;   // the camera and microphone stream
let session = null; // the WHIP session
let wantLive = false;
let lastSession = ""; // the id of this page's latest WHIP session, to tell a take-over
let polling = null;
const cohost = new StudioCoHost(showID);
const draws = new StudioDraws(showID, {
  seconds: () => Number($("#drop-seconds").value),
  now: () => (room ? room.now() : Date.now()),
  changed: () => renderOffers(),
});

main().catch((e) => toast(e.text ? e.text() : String(e)));

async function main() {
  await start();
  try {
    S.show = (await get(`/api/shows/${showID}`)).show;
  } catch (e) {
    gate(e instanceof ApiError && e.status === 404 ? t("player.notfound") : e.text());
    return;
  }
  for (const o of S.show.offers) {
    o.available ??= Math.max(0, o.allocated - o.sold - o.held); // the REST shape has no "available"
    S.offers.set(o.id, o);
    S.order.push(o.id);
  }
  productIndex(S.show.brand_id).then((ix) => { S.products = ix.bySKU; renderOffers(); }).catch(() => {});
  renderHead();
  onChange(() => { renderHead(); renderAll(); });
  wire();
  placeChat();
  phone.addEventListener("change", placeChat);
  onUser((u) => {
    if (u && !room) openRoom();
    if (!u) location.reload();
  });
  if (!currentUser()) {
    gate(t("studio.gate.login"), true);
    return;
  }
  openRoom();
}

function openRoom() {
  room = new Room(showID, { welcome, event, frame, status: () => {} });
  setInterval(sample, 5000);
  // Drop countdowns move every second; redraw only while one runs.
  setInterval(() => {
    const now = room.now();
    if (draws.running() || [...S.offers.values()].some((o) => dropState(o, now) === "open")) renderOffers();
  }, 1000);
}

function gate(text, login = false) {
  $("#gate").hidden = false;
  $("#gate-text").textContent = text;
  $("#gate-login").hidden = !login;
  $("#gate-login").onclick = () => openLogin();
  $("#studio").hidden = true;
}

function renderHead() {
  document.title = `${t("studio.title")} · ${S.show.title}`;
  $("#show-title").textContent = S.show.title;
  $("#show-when").textContent = showWhen(S.show);
}

// ---- live room

function welcome(f) {
  S.you = f.you;
  if (!f.you.can_moderate) {
    gate(t("studio.gate.host"));
    room.close();
    return;
  }
  $("#gate").hidden = true;
  $("#studio").hidden = false;
  S.show = { ...S.show, ...f.show };
  S.offers.clear();
  S.order = [];
  for (const o of f.offers) { S.offers.set(o.id, o); S.order.push(o.id); }
  S.pinned = f.pinned ? f.pinned.id : null;
  S.viewers = f.viewers;
  S.chat = f.recent.slice();
  $("#slow").value = String(f.slow_mode_seconds || 0);
  renderAll();
  draws.load();
  cohost.load();
  sample();
  listDevices();
  if (!polling) { polling = setInterval(pollStream, 3000); pollStream(); }
}

function event(f) {
  switch (f.type) {
    case "chat": S.chat.push(f); if (S.chat.length > 200) S.chat.shift(); renderChat(); break;
    case "moderation":
      if (f.action === "delete") { S.chat = S.chat.filter((m) => m.seq !== f.target); renderChat(); }
      if (f.action === "slow") $("#slow").value = String(f.seconds || 0);
      if (f.action === "words") $("#words").value = (f.words || []).join(", ");
      break;
    case "pin": S.pinned = f.offer_id || null; if (f.offer && mergeOffer(S.offers, f.offer)) S.order.push(f.offer.id); renderOffers(); break;
    case "stock": case "sold_out": {
      // The whole offer as of its as_of (never merged over a newer copy); a new one was just added.
      const o = S.offers.get(f.offer_id);
      if (f.offer) { if (mergeOffer(S.offers, f.offer)) S.order.push(f.offer.id); } else if (o) o.available = f.available;
      renderOffers(); renderPanel();
      break;
    }
    case "drop": {
      const o = S.offers.get(f.offer_id);
      if (f.offer) { if (mergeOffer(S.offers, f.offer)) S.order.push(f.offer.id); } else if (o) { o.drop = true; o.drop_opens_at = f.opens_at; o.drop_closes_at = f.closes_at; }
      renderOffers();
      break;
    }
    case "draw": draws.event(f); break;
    case "stage": cohost.event(f); break;
    case "show": S.show = { ...S.show, ...f.show }; renderAll(); break;
    case "show_state":
      S.show.state = f.state;
      if (f.at && f.state === "live") S.show.went_live_at ??= f.at;
      if (f.at && f.state === "ended") S.show.ended_at = f.at;
      if (f.state === "ended" && wantLive) stopLive();
      renderAll();
      break;
  }
}

function frame(f) {
  if (f.type === "viewers") { S.viewers = f.count; renderPanel(); }
  if (f.type === "error") $("#chat-error").textContent = new ApiError(0, f.code, f.message).text();
}

// ---- camera and going live

async function listDevices() {
  let devices = [];
  try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { /* no media devices */ }
  const fill = (sel, kind) => {
    const keep = sel.value;
    clear(sel);
    const list = devices.filter((d) => d.kind === kind);
    list.forEach((d, i) => sel.append(h("option", { value: d.deviceId, text: d.label || t(kind === "videoinput" ? "studio.cam.n" : "studio.mic.n", { n: i + 1 }) })));
    if (list.length === 0) sel.append(h("option", { value: "", i18n: "studio.nodevice" }));
    if (keep) sel.value = keep;
  };
  fill($("#cam"), "videoinput");
  fill($("#mic"), "audioinput");
}

// phone is the studio's phone mode (base.css): a portrait camera filling
// the screen, big controls, the products in a bottom sheet.
const phone = matchMedia("(max-width: 55.99rem)");
let facing = "user"; // the phone's camera: "user" (front) or "environment"

async function startCamera() {
  const cam = $("#cam").value, mic = $("#mic").value;
  // A phone held upright films upright; a chosen camera is kept, else the
  // phone's front or back one (flip).
  const size = phone.matches && matchMedia("(orientation: portrait)").matches
    ? { width: { ideal: 720 }, height: { ideal: 1280 } } : { width: { ideal: 1280 }, height: { ideal: 720 } };
  const video = cam && !flipped ? { deviceId: { exact: cam }, ...size } : { facingMode: facing, ...size };
  const next = await navigator.mediaDevices.getUserMedia({ video, audio: mic ? { deviceId: { exact: mic } } : true });
  // While live, swap the tracks in place: viewers keep their session.
  if (session) {
    for (const sender of session.pc.getSenders()) {
      const tr = next.getTracks().find((x) => x.kind === sender.track?.kind);
      if (tr) await sender.replaceTrack(tr);
    }
  }
  local?.getTracks().forEach((tr) => tr.stop());
  local = next;
  $("#preview").srcObject = local;
  $("#start-cam").textContent = t("studio.restartcam");
  await listDevices();
}

// The broadcast's states: off, connecting, live, reconnecting; elsewhere (a
// publisher this page did not start is on air: another tab, device or
// encoder) and taken (another device took this page's broadcast over). The
// last two offer a take-over and never retry on their own.
function setLive(state, extra) {
  S.live = state;
  const el = $("#live-state");
  el.dataset.state = state;
  el.textContent = extra ? `${t("studio.state." + state)} ${extra}` : t("studio.state." + state);
  $("#onair").hidden = state !== "live";
  const away = state === "elsewhere" || state === "taken";
  $("#go-live").hidden = state === "live" || state === "connecting" || away;
  $("#take-over").hidden = !away;
  $("#stop").hidden = !(state === "live" || state === "connecting" || state === "reconnecting");
}

const sessionID = (ss) => (ss ? ss.location.split("/").pop() : "");

// streamState is the server's view of the show's broadcast, or null.
async function streamState() {
  try { return (await get(`/api/shows/${showID}/stream`)).stream; } catch { return null; }
}

// pollStream keeps the page's state in step with the server's: a publisher
// appears elsewhere or leaves, or this page's broadcast was taken over.
async function pollStream() {
  const st = await streamState();
  if (!st) return;
  if (wantLive) {
    if (lastSession && st.taken_over === lastSession) takenOver();
    return;
  }
  if (S.live === "off" && st.live) setLive("elsewhere");
  else if (S.live === "elsewhere" && !st.live) setLive("off");
}

// takenOver stops this page's broadcast without ending the show: the
// server already ended the session, and the other device has the show.
function takenOver() {
  wantLive = false;
  session?.pc.close();
  session = null;
  setLive("taken");
}

async function goLive() {
  wantLive = true;
  try {
    if (!local) await startCamera();
  } catch (e) {
    setLive("off", t("studio.nocam") + " " + e.message);
    wantLive = false;
    return;
  }
  setLive("connecting");
  for (let attempt = 0; wantLive; attempt++) {
    let ss = null;
    try {
      // A reconnect must not take back a show another device took over.
      if (attempt > 0 && lastSession) {
        const st = await streamState();
        if (st?.taken_over === lastSession) { takenOver(); break; }
      }
      // The studio publishes as its signed-in host: no stream key, so going
      // live here never replaces the key an encoder is set up with.
      ss = session = await publish(showID, null, local);
      lastSession = sessionID(ss);
      await connected(ss.pc);
      if (!wantLive) break;
      setLive("live");
      await broken(ss.pc);
      if (!wantLive) break;
      setLive("reconnecting");
    } catch (e) {
      if (!wantLive) break;
      if (e.status === 409) { wantLive = false; session = null; setLive("elsewhere"); break; }
      if (e.status === 401 || e.status === 403) { wantLive = false; session = null; setLive("off", e.message); break; }
      setLive("reconnecting", e.text ? e.text() : e.message);
    }
    if (ss && session === ss) { await hangUp(ss); session = null; }
    await sleep(2000);
  }
}

// takeOver moves the show's broadcast to this page: the server ends the
// other publisher as if it hung up (viewers stay for the grace period) and
// this page publishes in its place, with the stream key left as it is.
async function takeOver() {
  $("#take-over").disabled = true;
  try {
    await post(`/api/shows/${showID}/takeover`);
    await goLive();
  } catch (e) {
    toast(e.text ? e.text() : String(e));
  } finally {
    $("#take-over").disabled = false;
  }
}

function connected(pc) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve();
      if (pc.connectionState === "failed" || pc.connectionState === "closed") reject(new Error(t("studio.state.failed")));
    };
    pc.addEventListener("connectionstatechange", check);
    setTimeout(() => reject(new Error(t("studio.state.failed"))), 15000);
    check();
  });
}

async function broken(pc) {
  let down = 0;
  while (wantLive) {
    await sleep(1000);
    const st = pc.connectionState;
    if (st === "failed" || st === "closed") return;
    down = st === "disconnected" ? down + 1 : 0;
    if (down >= 5) return;
  }
}

async function stopLive() {
  wantLive = false;
  await hangUp(session);
  session = null;
  setLive("off");
}

async function obsKey() {
  try {
    const r = await post(`/api/shows/${showID}/stream-key`);
    $("#whip-url").textContent = r.whip_url;
    $("#stream-key").textContent = r.stream_key;
    $("#key-box").hidden = false;
  } catch (e) {
    toast(e.text());
  }
}

// ---- products

async function pin(o) {
  try {
    await post(`/api/shows/${showID}/pin`, { offer_id: S.pinned === o.id ? null : o.id });
  } catch (e) { toast(e.text()); }
}

async function drop(o, action) {
  try {
    const { offer } = await post(`/api/shows/${showID}/drops`, { offer_id: o.id, action, seconds: Number($("#drop-seconds").value) });
    Object.assign(S.offers.get(o.id), offer);
    renderOffers();
  } catch (e) { toast(e.text()); }
}

function renderOffers() {
  const ul = $("#studio-offers");
  const focused = document.activeElement?.dataset?.pin || document.activeElement?.dataset?.drop;
  const focusSel = focused ? `[data-pin="${focused}"],[data-drop="${focused}"]` : null;
  const focusKind = document.activeElement?.dataset?.pin ? "pin" : "drop";
  clear(ul);
  const now = room ? room.now() : Date.now();
  for (const id of S.order) {
    const o = S.offers.get(id);
    const ds = dropState(o, now);
    const pinned = S.pinned === o.id;
    const tools = [
      h("button", { type: "button", class: pinned ? "primary small" : "secondary small", "data-pin": o.id,
        "aria-pressed": pinned ? "true" : "false", i18n: pinned ? "studio.unpin" : "studio.pin", onclick: () => pin(o) }),
      ds === "open"
        ? h("button", { type: "button", class: "secondary small", "data-drop": o.id, i18n: "studio.drop.close", onclick: () => drop(o, "close") })
        : h("button", { type: "button", class: "secondary small", "data-drop": o.id, i18n: "studio.drop.open", onclick: () => drop(o, "open") }),
      ...draws.tools(o),
    ];
    ul.append(h("li", {}, card(o, S.products.get(o.sku_id), { now, action: h("div", { class: "offer-tools" }, ...tools) })));
  }
  if (focusSel) ul.querySelector(focusKind === "pin" ? `[data-pin="${focused}"]` : `[data-drop="${focused}"]`)?.focus();
  draws.renderForm($("#giveaway-form"), S.order.map((id) => S.offers.get(id)).filter(Boolean),
    (o) => S.products.get(o.sku_id)?.product?.name || t("offer.unknown"));
}

// ---- live panel

async function sample() {
  if (!S.show) return;
  try {
    S.stats = await get(`/api/shows/${showID}/stats`);
    S.stats = S.stats.stats || S.stats;
    S.statsMissing = false;
  } catch (e) {
    S.statsMissing = e.status === 501 || (e.status === 404 && /no API route/.test(e.message));
  }
  S.samples.push({ at: Date.now(), viewers: S.viewers, stock: stockLeft(), orders: S.stats?.orders ?? null });
  if (S.samples.length > 720) S.samples.shift();
  renderPanel();
}

const stockLeft = () => [...S.offers.values()].reduce((n, o) => n + Math.max(0, o.available), 0);

function renderPanel() {
  $("#st-viewers").textContent = number(S.viewers || 0);
  $("#st-stock").textContent = number(stockLeft());
  const st = S.stats;
  $("#st-orders").textContent = st ? number(st.orders) : "–";
  $("#st-gmv").textContent = st && st.gmv?.length ? st.gmv.map((m) => money(m.minor, m.currency)).join(" + ") : st ? money(0, S.offers.values().next().value?.currency || "EUR") : "–";
  $("#stats-note").textContent = S.statsMissing ? t("studio.stats.missing") : "";
  // The phone mode's figures over the camera (the panel's, in short).
  $("#ph-viewers").textContent = t("player.viewers", { n: number(S.viewers || 0) });
  $("#ph-orders").textContent = `${t("studio.orders")} ${$("#st-orders").textContent}`;
  $("#ph-gmv").textContent = $("#st-gmv").textContent;
  const series = [
    { label: t("studio.viewers"), points: S.samples.map((s) => [s.at, s.viewers]) },
    { label: t("studio.stock"), points: S.samples.map((s) => [s.at, s.stock]) },
  ];
  if (!S.statsMissing) series.push({ label: t("studio.orders"), points: S.samples.filter((s) => s.orders !== null).map((s) => [s.at, s.orders]) });
  lineChart($("#chart"), series, { label: t("studio.chart"), empty: t("studio.chart.empty"), timeLabel: (ms) => time(new Date(ms).toISOString()),
    maxLabel: (label, max) => t("chart.max", { label, max: number(max) }) });
}

// ---- chat and moderation

// On a phone the chat floats over the camera, as the viewers' player has
// it (base.css), and is moderated from there; on a wider screen it sits in
// its panel. The one log moves, so it is drawn, moderated and announced in
// one place whatever the screen (phone: the phone mode, above).

function placeChat() {
  const log = $("#chat-log");
  if (phone.matches) $("#cam-chat").append(log);
  else $("#chat-form").before(log);
  log.scrollTop = log.scrollHeight;
}

function renderChat() {
  const log = $("#chat-log");
  // A host who scrolled back to read keeps their place; at the end, the
  // log follows the new lines.
  const top = log.scrollTop, atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  clear(log);
  log.dataset.empty = t("chat.empty");
  for (const m of S.chat) {
    const mine = m.user?.id === S.you?.id;
    log.append(h("li", { "data-seq": m.seq },
      h("strong", { class: "chat-name", text: m.user?.name || "" }), " ", h("span", { class: "chat-text", text: m.text }),
      mine ? null : h("span", { class: "mod" },
        h("button", { type: "button", class: "link small", i18n: "studio.m.delete", "aria-label": t("studio.m.delete.of", { name: m.user?.name || "" }),
          onclick: () => room.send({ type: "moderate", action: "delete", seq: m.seq }) }),
        h("button", { type: "button", class: "link small", i18n: "studio.m.mute", "aria-label": t("studio.m.mute.of", { name: m.user?.name || "" }),
          onclick: () => { room.send({ type: "moderate", action: "mute", user_id: m.user.id, seconds: 600 }); toast(t("studio.m.muted", { name: m.user.name })); } }),
        h("button", { type: "button", class: "link small", i18n: "studio.m.ban", "aria-label": t("studio.m.ban.of", { name: m.user?.name || "" }),
          onclick: () => { if (confirm(t("studio.m.ban.confirm", { name: m.user.name }))) room.send({ type: "moderate", action: "ban", user_id: m.user.id }); } }))));
  }
  log.scrollTop = atEnd ? log.scrollHeight : top;
}

let flipped = false;

// flip turns to the phone's other camera (front or back), live or not.
async function flip() {
  facing = facing === "user" ? "environment" : "user";
  flipped = true;
  await startCamera().catch((e) => setLive(S.live, t("studio.nocam") + " " + e.message));
}

function setProducts(open) {
  document.body.classList.toggle("products-open", open);
  $("#products-open").setAttribute("aria-expanded", open ? "true" : "false");
  if (open) $("#prod-h").focus(); else if (phone.matches) $("#products-open").focus();
}

function renderAll() {
  renderHead();
  renderOffers();
  renderPanel();
  renderChat();
  setLive(S.live);
  $("#end-show").disabled = S.show.state === "ended";
}

function wire() {
  $("#start-cam").addEventListener("click", () => startCamera().catch((e) => setLive("off", t("studio.nocam") + " " + e.message)));
  $("#cam").addEventListener("change", () => local && startCamera().catch(() => {}));
  $("#mic").addEventListener("change", () => local && startCamera().catch(() => {}));
  $("#go-live").addEventListener("click", goLive);
  $("#flip").addEventListener("click", flip);
  $("#cam").addEventListener("change", () => { flipped = false; });
  $("#products-open").addEventListener("click", () => setProducts(true));
  $("#products-close").addEventListener("click", () => setProducts(false));
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && document.body.classList.contains("products-open")) setProducts(false); });
  $("#take-over").addEventListener("click", takeOver);
  // Leaving the page ends the broadcast: ask first while on air.
  window.addEventListener("beforeunload", (ev) => {
    if (!wantLive && !session) return;
    ev.preventDefault();
    ev.returnValue = "";
  });
  // And if the host leaves anyway, hang up at once: the show waits its
  // grace period for them (a reloaded studio goes live again within it).
  window.addEventListener("pagehide", () => {
    if (session) fetch(session.location, { method: "DELETE", credentials: "same-origin", keepalive: true }).catch(() => {});
  });
  $("#stop").addEventListener("click", stopLive);
  $("#get-key").addEventListener("click", obsKey);
  $("#chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("#chat-text").value.trim();
    if (!text) return;
    $("#chat-error").textContent = "";
    if (room.send({ type: "chat", id: "chat-" + crypto.randomUUID().slice(0, 8), text })) $("#chat-text").value = "";
  });
  $("#slow").addEventListener("change", () => room.send({ type: "moderate", action: "slow", seconds: Number($("#slow").value) }));
  $("#words-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const words = $("#words").value.split(",").map((w) => w.trim()).filter(Boolean);
    room.send({ type: "moderate", action: "words", words });
    toast(t("common.saved"));
  });
  $("#end-show").addEventListener("click", () => {
    if (confirm(t("studio.end.confirm"))) room.send({ type: "end", id: "end" });
  });
  setLive("off");
}
