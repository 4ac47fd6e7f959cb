// The live player, /shows/{id}: video over WHEP, the live room (chat,
// reactions, pinned product, stock), one-tap reserve and a checkout sheet
// that pays without leaving the video. On a phone the video fills the
// screen and the rest floats over it (base.css); the bag is a sheet with
// every product of the show and its variants.
import { t, money, clock, dateTime, number, onChange, showWhen, wentLive } from "./i18n.js";
import { h, $, clear, sleep, backoff } from "./dom.js";
import { get, post, del, ApiError, productIndex, skuLabel } from "./api.js";
import { start, onUser, requireLogin, currentUser, toast } from "./shell.js";
import { Room, REACTIONS } from "./room.js";
import { watch, hangUp, framesDecoded } from "./rtc.js";
import { first, steps as firstSteps, attach, setUp } from "./connect.js";
import { card, dropState, mergeOffer, stockText } from "./offers.js";
import { picture, setPicture, variantImage } from "./media.js";
import { icsFor, download } from "./ics.js";
import { Draws } from "./draws.js";
import { Coupons } from "./coupons.js";
import { loadWallet, fillCountries, addressLine } from "./wallet.js";
import { loadReplay, loadChat, pinnedAt, linesUntil, stamp } from "./replay.js";
import { followButton, refreshFollow, redrawFollows } from "./follow.js";
import { CoStage, ReplayStage } from "./costage.js";

// When this script began, its modules loaded (ms since the page began to load).
const scriptAt = performance.now();
const showID = location.pathname.split("/")[2];
const S = {
  show: null, offers: new Map(), order: [], pinned: null, products: new Map(),
  you: null, viewers: null, orders: [], video: "connecting", ended: false,
  // The buyer's active holds (reservation id -> reservation), from the
  // server; current is the one the checkout sheet is about.
  holds: new Map(), current: null,
  chat: [], counts: {},
  brand: null,
  // variant: the offer chosen on each product's card in the bag, by product.
  variant: new Map(),
  // The buyer's saved addresses and remembered card (wallet.js).
  wallet: { addresses: [], method: null },
  // replay: the ended show's recording and timeline (replay.js); replayChat:
  // its chat, each line with its offset, played back with the video.
  replay: null, replayChat: [],
};
let room;
let coStage = null; // the co-host beside the host (costage.js)
let session = null;
let sessions = 0; // WHEP sessions opened, for the tests of reconnection
// intents: one per offer while a Buy tap waits for its answer. A tap is one
// intent to buy with one idempotency key: more taps while it is pending do
// nothing, and a retry after a lost answer (network) reuses the key, so
// three quick taps never make three holds.
const intents = new Map();
const draws = new Draws(showID, {
  name: (offerID) => S.products.get(S.offers.get(offerID)?.sku_id)?.product?.name || t("offer.unknown"),
  now: () => (room ? room.now() : Date.now()),
  won: (d) => (d?.prize_coupon_id ? coupons.load() : loadHolds()),
});

const coupons = new Coupons(showID);

main().catch((e) => fatal(e));

async function main() {
  // The video connects while the page loads: the first WHEP session began
  // in connect.js, before these scripts were in, and waited for neither the
  // strings, the account nor the show (a show not live answers 404 and the
  // loop waits; an ended one stops it once the show is read). The rest of
  // the page follows its answer, or half a second, whichever comes first.
  videoLoop();
  await setUp(500);
  await start();
  try {
    S.show = (await get(`/api/shows/${showID}`)).show;
  } catch (e) {
    S.ended = true; // stops the video loop
    fatal(e);
    return;
  }
  for (const o of S.show.offers) {
    o.available ??= Math.max(0, o.allocated - o.sold - o.held); // the REST shape has no "available"
    S.offers.set(o.id, o);
    S.order.push(o.id);
  }
  S.ended = S.show.state === "ended" || S.show.state === "cancelled";
  productIndex(S.show.brand_id).then((ix) => { S.products = ix.bySKU; renderOffers(); renderHolds(); if (S.ended) renderEnded(); }).catch(() => {});
  get(`/api/brands/${S.show.brand_id}`).then((r) => { S.brand = r.brand; renderTop(); }).catch(() => {});
  wire();
  renderAll();
  if (!S.ended) {
    room = new Room(showID, { welcome, event, frame, status: roomStatus });
    coStage = new CoStage(showID, $("#video-wrap"), $("#video"));
    coStage.load();
  }
  loadOrders();
  if (!S.ended) coupons.load();
  loadHolds().then(resumeCheckout);
  refreshWallet();
  if (S.ended) { loadEnded(); loadEndedChat(); }
  if (S.show.state === "ended") startReplay();
  onUser(() => {
    room?.restart(); loadOrders(); loadHolds(); loadSubscribed(); refreshWallet(); renderAll(); draws.load(); coupons.load();
    if (S.brand) refreshFollow(S.brand.id);
  });
  // Holds may have changed in another tab or device meanwhile.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) loadHolds(); });
  onChange(() => { renderAll(); renderWallet(); redrawFollows(); coupons.render(); if (S.ended) renderEnded(); });
  setInterval(tick, 1000);
}

function fatal(e) {
  const main = $("#main");
  const msg = e instanceof ApiError && e.status === 404 ? t("player.notfound") : (e.text ? e.text() : String(e));
  clear(main).append(h("section", { class: "panel" }, h("h1", { i18n: "player.unavailable" }), h("p", { text: msg }),
    h("a", { class: "button secondary", href: "/", i18n: "player.ended.more" })));
}

// ---- live room

function welcome(f) {
  S.show = { ...S.show, ...f.show };
  // Keep the show's own order (the brand's listing, as the REST read gave
  // it): the first offer of a product is the variant its card starts on.
  const pos = new Map(S.order.map((id, i) => [id, i]));
  const listed = f.offers.slice().sort((a, b) => (pos.get(a.id) ?? Infinity) - (pos.get(b.id) ?? Infinity));
  S.offers.clear();
  S.order = [];
  for (const o of listed) { S.offers.set(o.id, o); S.order.push(o.id); }
  S.pinned = f.pinned ? f.pinned.id : null;
  if (f.pinned) upsertOffer(f.pinned); // the same copy as in offers: a no-op on current servers
  S.viewers = f.viewers;
  S.you = f.you;
  S.chat = f.recent.slice();
  if (f.show.state === "ended") setEnded();
  renderAll();
  draws.load();
}

function event(f) {
  switch (f.type) {
    case "chat":
      S.chat.push(f);
      if (S.chat.length > 200) S.chat.shift();
      appendChat(f);
      break;
    case "moderation":
      if (f.action === "delete") {
        S.chat = S.chat.filter((m) => m.seq !== f.target);
        document.querySelector(`#chat-log [data-seq="${f.target}"]`)?.remove();
      }
      if (f.action === "mute" && f.subject === S.you?.id) showChatError(t("chat.muted", { until: dateTime(f.until) }));
      break;
    case "pin":
      S.pinned = f.offer_id || null;
      if (f.offer) upsertOffer(f.offer); // read at pin time: kept only if not older than ours
      renderOffers();
      break;
    case "stock":
    case "sold_out": {
      // The whole offer, as of its as_of; an offer we do not know was just added to the show.
      const o = S.offers.get(f.offer_id);
      if (f.offer) upsertOffer(f.offer);
      else if (o) o.available = f.available;
      renderOffers();
      break;
    }
    case "bought":
      if (f.offer) upsertOffer(f.offer);
      renderOffers();
      announceBought(f);
      break;
    case "drop": {
      const o = S.offers.get(f.offer_id);
      if (f.offer) upsertOffer(f.offer);
      else if (o) { o.drop = true; o.drop_opens_at = f.opens_at; o.drop_closes_at = f.closes_at; }
      renderOffers();
      break;
    }
    case "draw":
      draws.event(f);
      break;
    case "show":
      S.show = { ...S.show, ...f.show };
      renderAll();
      break;
    case "stage":
      coStage?.apply(f.stage);
      break;
    case "show_state":
      S.show.state = f.state;
      // When it really went live or ended (the first time: a publisher
      // coming back does not move it).
      if (f.at && f.state === "live") S.show.went_live_at ??= f.at;
      if (f.at && f.state === "ended") S.show.ended_at = f.at;
      if (f.state === "ended") { setEnded(); coStage?.close(); }
      renderAll();
      break;
  }
}

// upsertOffer merges a copy of an offer from the room (mergeOffer: never an
// older one over a newer one) and lists an offer that is new to the show.
function upsertOffer(v) {
  if (mergeOffer(S.offers, v)) S.order.push(v.id);
}

function frame(f) {
  switch (f.type) {
    case "viewers": S.viewers = f.count; renderViewers(); break;
    case "reactions":
      for (const [k, n] of Object.entries(f.counts)) S.counts[k] = (S.counts[k] || 0) + n;
      renderReactions(f.counts);
      break;
    case "order":
      upsertOrder(f.order);
      break;
    case "error":
      if (!f.id || f.id.startsWith("chat-")) showChatError(errText(f.code, f.message));
      break;
  }
}

function roomStatus(s) {
  if (s === "open") loadHolds(); // after a reconnect: what happened to the holds meanwhile
  const el = $("#room-status");
  if (S.ended) { el.textContent = ""; return; }
  el.textContent = s === "open" ? "" : s === "banned" ? t("chat.banned") : s === "gone" ? t("player.notfound") : t("chat.reconnecting");
}

const errText = (code, message) => new ApiError(0, code, message).text();

function showChatError(text) {
  $("#chat-error").textContent = text;
}

// ---- video

// videoLoop keeps a WHEP session up while the show can be live: it retries
// when the show has not started, and reconnects when the connection dies or
// frames stop arriving.
async function videoLoop() {
  const video = $("#video");
  const retry = backoff(8000);
  let begun = first; // connect.js began the first session
  while (!S.ended) {
    try {
      setVideo("connecting");
      // Until one succeeds, a session's steps are the first session's.
      const next = begun ?? watch(showID, attach, sessions === 0 ? firstSteps : {});
      begun = null;
      session = await next;
      sessions++;
      await untilBroken(session.pc);
      retry.reset();
    } catch (e) {
      setVideo(e.status === 404 ? "waiting" : "starting");
      if (e.status === 404) await untilStarted(30000);
    }
    await hangUp(session);
    session = null;
    if (S.ended) break;
    setVideo(S.video === "playing" ? "reconnecting" : S.video);
    await sleep(retry.next());
  }
  video.srcObject = null;
}

// untilStarted waits while the show is known not to have begun (or is not
// known yet): its WHEP answers 404 until the host goes live, and the room
// says when that happens (show_state), so the loop need not ask again and
// again, each 404 an error in the browser's console. It asks anyway after
// ms, in case the word was missed.
async function untilStarted(ms) {
  for (let waited = 0; waited < ms && !S.ended && (!S.show || S.show.state === "scheduled"); waited += 250) await sleep(250);
}

// untilBroken resolves when the session fails, closes, or decodes no new
// frame for a while (a publisher that left without the DELETE arriving).
async function untilBroken(pc) {
  let last = -1, stalled = 0, waited = 0;
  for (;;) {
    await sleep(1000);
    if (S.ended) return;
    const st = pc.connectionState;
    if (st === "failed" || st === "closed") return;
    const n = await framesDecoded(pc).catch(() => 0);
    if (n > 0 && n !== last) { setVideo("playing"); stalled = 0; last = n; continue; }
    if (n > 0) stalled++; else waited++;
    if (stalled >= 5 || waited >= 10) return;
  }
}

function setVideo(v) {
  S.video = v;
  renderVideo();
}

// For the browser tests and for support: the decoded frame count of the
// current session.
window.pavilionPlayer = {
  framesDecoded: () => (session ? framesDecoded(session.pc) : Promise.resolve(0)),
  sessions: () => sessions,
  // firstFrame: when the first video frame was shown, in ms since the page
  // began to load (performance.now()); null until then.
  firstFrame: () => firstSteps.frame ?? null,
  // timings: when this script began, and the first session's steps
  // (connect.js): the offer left, its answer came, ICE and then DTLS were
  // up (ms since the page began to load).
  timings: () => ({ script: scriptAt, ...firstSteps }),
  // pauseRoom and resumeRoom drop the live room's connection and bring it
  // back, resuming from the last event (a phone losing its network).
  pauseRoom: () => room?.pause(),
  resumeRoom: () => room?.resume(),
};

function setEnded() {
  if (!S.ended) loadEnded();
  S.ended = true;
  S.show.state = "ended";
  // A show that is over features nothing (the server unpinned it as it
  // ended, and says no more); a replay shows the pins of its moments.
  S.pinned = null;
  S.viewers = null;
  $("#room-status").textContent = "";
  room?.close();
  hangUp(session);
  startReplay();
}

// loadEndedChat shows a page opened after the end (the live room is closed
// by then) the show's last chat lines, kept by the server, each once and
// oldest first; a replay, when there is one, plays them back in step
// instead. A page that watched the end keeps the lines it has.
async function loadEndedChat() {
  let lines;
  try { lines = await loadChat(showID, S.show.went_live_at || S.show.starts_at, 200); } catch { return; }
  if (S.replay) return;
  S.chat = lines;
  renderChat();
}

// ---- the replay: after the show, its recording plays here, the products
// on its timeline, the chat in step, and the offers still sell until the
// brand's replay_sales_until (the server decides; on_sale says it).

let replayStarted = false;

async function startReplay() {
  if (replayStarted) return;
  replayStarted = true;
  let r = null;
  // Just after the end the recording may still be finishing (a host who
  // ended the show after leaving: the end grace, 30 s by default): ask again
  // for half a minute.
  for (let i = 0; i < 9 && !r; i++) {
    try { r = await loadReplay(showID); } catch { r = null; }
    if (!r && i < 8) await sleep(Math.min(5000, 1000 * (i + 1)));
  }
  if (!r) return;
  S.replay = r;
  const v = $("#video");
  v.srcObject = null;
  v.autoplay = false;
  v.muted = false;
  v.controls = true;
  v.src = r.url;
  if (r.guest) {
    // The live stage is over: the guest's recording takes its place.
    if (coStage) { coStage.close(); coStage.box.remove(); coStage = null; }
    new ReplayStage($("#video-wrap"), v, r.guest, r.timeline);
  }
  v.addEventListener("timeupdate", syncReplay);
  v.addEventListener("seeked", syncReplay);
  renderReplay();
  renderAll();
  try { S.replayChat = await loadChat(showID, r.started_at); } catch { S.replayChat = []; }
  syncReplay();
}

let shownLines = -1;

// syncReplay follows the playback: the pin of the moment, the chat so far.
function syncReplay() {
  if (!S.replay) return;
  const ms = $("#video").currentTime * 1000;
  const pin = pinnedAt(S.replay.timeline, ms);
  if (pin !== S.pinned) { S.pinned = pin; renderPinned(); }
  const lines = linesUntil(S.replayChat, ms);
  if (lines.length !== shownLines) {
    shownLines = lines.length;
    S.chat = lines;
    renderChat();
  }
  const now = ms;
  for (const b of document.querySelectorAll("#replay-marks button, #replay-stage button")) {
    b.setAttribute("aria-current", Number(b.dataset.at) <= now && now < Number(b.dataset.next) ? "true" : "false");
  }
}

// seekTo jumps the replay to a moment of its timeline.
function seekTo(ms) {
  const v = $("#video");
  v.currentTime = ms / 1000;
  if (v.paused) v.play().catch(() => {});
}

function renderReplay() {
  const r = S.replay;
  const box = $("#ended-replay");
  box.hidden = !r;
  if (!r) return;
  // The chat beside a replay is the show's, played back.
  $("#chat-h").dataset.i18n = "replay.chat";
  $("#chat-h").textContent = t("replay.chat");
  const marks = r.timeline.filter((m) => m.type === "pin" || m.type === "drop");
  // The stage's moments, when a guest was recorded: the guest joining and
  // leaving, the host's layout switches (the player follows them).
  const stage = r.guest ? r.timeline.filter((m) => STAGE_MARKS.includes(m.type)) : [];
  const sale = r.on_sale && r.replay_sales_until ? t("replay.onsale", { when: dateTime(r.replay_sales_until) }) : t("replay.nosale");
  const list = (id, items, label) => h("ol", { id, class: "plain replay-marks" }, ...items.map((m, i) =>
    h("li", {}, h("button", { type: "button", class: "link replay-mark", "data-at": m.at_ms, "data-next": items[i + 1]?.at_ms ?? r.duration_ms,
      onclick: () => seekTo(m.at_ms) },
    h("span", { class: "replay-at", text: stamp(m.at_ms) }), " ",
    h("span", { text: label(m) })))));
  clear(box).append(
    h("h3", { i18n: "replay.title" }),
    h("p", { class: "muted", text: `${t("replay.length", { time: stamp(r.duration_ms) })} · ${sale}` }),
    marks.length ? h("h4", { i18n: "replay.timeline" }) : null,
    list("replay-marks", marks, (m) => t(m.type === "drop" ? "replay.drop" : "replay.pin", { name: offerName(m.offer_id) })),
    stage.length ? h("h4", { i18n: "replay.stage" }) : null,
    stage.length ? list("replay-stage", stage, stageLabel) : null);
}

const STAGE_MARKS = ["guest_joined", "layout", "guest_left"];

function stageLabel(m) {
  if (m.type === "guest_joined") return t("replay.guest.joined");
  if (m.type === "guest_left") return t("replay.guest.left");
  return t("replay.layout", { layout: t(`cohost.layout.${m.layout}`) });
}

function offerName(offerID) {
  return S.products.get(S.offers.get(offerID)?.sku_id)?.product?.name || t("offer.unknown");
}

// ---- buying

const currentHold = () => S.holds.get(S.current) || null;
const holdOf = (offerID) => [...S.holds.values()].find((r) => r.offer_id === offerID && r.state === "held") || null;

async function buy(o) {
  const u = await requireLogin();
  if (!u) return;
  let intent = intents.get(o.id);
  if (intent?.busy) return;
  if (!intent) { intent = { key: crypto.randomUUID(), busy: false }; intents.set(o.id, intent); }
  intent.busy = true;
  renderOffers();
  try {
    const { reservation } = await post("/api/reservations", { offer_id: o.id, quantity: 1 }, { "Idempotency-Key": intent.key });
    intents.delete(o.id);
    S.holds.set(reservation.id, reservation);
    S.current = reservation.id;
    renderHolds();
    if (document.body.classList.contains("bag-open")) closeBag();
    openCheckout();
  } catch (e) {
    // An answer ends the intent; without one (network) the next tap retries
    // with the same key and gets the first answer if there was one.
    if (e.status !== 0) intents.delete(o.id); else intent.busy = false;
    toast(e.text ? e.text() : String(e));
    if (e.status === 0 || e.code === "limit_reached") loadHolds();
  } finally {
    renderOffers();
  }
}

// loadHolds asks the server for the buyer's active holds in this show: a
// reloaded page, another tab's taps and expiries all show up here.
async function loadHolds() {
  if (!currentUser()) { S.holds.clear(); S.current = null; renderHolds(); return; }
  try {
    const { reservations } = await get(`/api/reservations?show=${showID}`);
    S.holds = new Map(reservations.map((r) => [r.id, r]));
  } catch { return; /* keep what we have; the next load will tell */ }
  if (S.current && !S.holds.has(S.current)) S.current = null;
  renderHolds();
  renderOffers();
}

function openCheckout(id) {
  if (typeof id === "string") S.current = id;
  if (!currentHold()) return;
  const d = $("#checkout");
  $("#co-form").hidden = false;
  $("#co-done").hidden = true;
  $("#co-error").textContent = "";
  if (!$("#ship-name").value && currentUser()) $("#ship-name").value = currentUser().display_name;
  renderCheckout();
  renderWallet();
  coupons.prepare(currentHold(), renderCheckout);
  if (!d.open) d.showModal();
  (S.wallet.addresses.length ? $("#co-address") : $("#ship-name")).focus();
}

// resumeCheckout opens the sheet on the hold named by ?checkout= (the
// orders page's "buy again" sends the buyer here when the wallet cannot pay
// on its own).
function resumeCheckout() {
  const id = new URLSearchParams(location.search).get("checkout");
  if (id && S.holds.has(id)) openCheckout(id);
}

async function refreshWallet() {
  S.wallet = currentUser() ? await loadWallet() : { addresses: [], method: null };
  renderWallet();
}

// renderWallet offers the saved addresses (the last used chosen) and the
// remembered card (chosen) above the form for new ones.
function renderWallet() {
  fillCountries($("#ship-country"));
  const { addresses, method } = S.wallet;
  const sel = $("#co-address");
  const was = sel.value;
  clear(sel).append(...addresses.map((a) => h("option", { value: a.id, text: addressLine(a) })),
    h("option", { value: "new", text: t("co.address.new") }));
  // The buyer's own choice stays; until they make one, the last address
  // used (the wallet may arrive after the sheet opened on "new").
  const keep = sel.dataset.touched && (addresses.some((a) => a.id === was) || was === "new");
  sel.value = keep ? was : addresses[0]?.id || "new";
  $("#co-saved").hidden = addresses.length === 0;
  renderAddressChoice();
  const card = $("#card");
  card.querySelector('option[value="saved"]')?.remove();
  if (method) {
    card.prepend(h("option", { value: "saved", text: t("co.card.saved", { label: method.label }) }));
    if (!card.dataset.touched) card.value = "saved";
  }
  renderCardChoice();
}

// The new-address form is disabled (and so not checked) while a saved one is chosen.
function renderAddressChoice() {
  const saved = $("#co-address").value !== "new" && S.wallet.addresses.length > 0;
  $("#co-new").disabled = saved;
  $("#co-new").hidden = saved;
}

function renderCardChoice() {
  $("#co-remember-row").hidden = $("#card").value === "saved";
}

const holdName = (r) => S.products.get(r.sku_id)?.product?.name || t("offer.unknown");

function renderCheckout() {
  const r = currentHold();
  if (!r) return;
  const info = S.products.get(r.sku_id);
  clear($("#co-item")).append(
    picture(variantImage(info?.product, info?.sku), { sizes: "56px", width: 56, height: 56, cls: "co-pic", eager: true }),
    h("strong", { text: holdName(r) }),
    info?.sku ? h("span", { class: "muted", text: " · " + skuLabel(info.sku) }) : null,
    h("span", { class: "co-price", text: money(r.price_minor * r.quantity, r.currency) }),
  );
  // A quote is for one hold: the discounted total shows only for it.
  const q = coupons.quote?.reservation === r.id ? coupons.quote : null;
  $("#co-coupon-box").hidden = r.price_minor === 0; // a prize has nothing to take off
  const total = q ? q.total_minor : r.price_minor * r.quantity;
  $("#co-total").hidden = !q;
  if (q) $("#co-total").textContent = t("coupon.total", { subtotal: money(q.subtotal_minor, q.currency), discount: money(q.discount_minor, q.currency), total: money(total, r.currency) });
  $("#co-pay").textContent = r.price_minor === 0 ? t("giveaway.claim") : total === 0 ? t("coupon.free") : t("co.pay", { amount: money(total, r.currency) });
  renderHold();
}

const holdLeft = (r) => Date.parse(r.expires_at) - (room ? room.now() : Date.now());
const holdText = (r) => (r.state === "ordering" ? t("holds.paying") : holdLeft(r) > 0 ? t("co.hold", { time: clock(holdLeft(r)) }) : t("co.expired"));

// renderHold moves the countdowns: the sheet's, the cards' and the list's;
// a hold that ran out leaves the list (the server expires it too).
function renderHold() {
  const r = currentHold();
  if (r) {
    const left = holdLeft(r);
    $("#co-hold").textContent = holdText(r);
    // Announce the hold's time now and then, not every second.
    const s = Math.ceil(left / 1000);
    $("#co-hold").setAttribute("aria-live", s % 60 === 0 || s <= 10 ? "polite" : "off");
  } else if ($("#checkout").open && !$("#co-form").hidden) {
    $("#co-hold").textContent = t("co.expired");
  }
  for (const el of document.querySelectorAll("[data-hold-time]")) {
    const x = S.holds.get(el.dataset.holdTime);
    if (x) el.textContent = holdText(x);
  }
  const gone = [...S.holds.values()].filter((x) => x.state === "held" && holdLeft(x) <= 0);
  if (gone.length) {
    for (const x of gone) S.holds.delete(x.id);
    announceHolds(t("holds.expired", { name: holdName(gone[0]) }));
    renderHolds();
    renderOffers();
  }
}

function announceHolds(text) {
  $("#holds-status").textContent = text;
}

function renderHolds() {
  const list = [...S.holds.values()].sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
  $("#my-holds").hidden = list.length === 0;
  const ul = clear($("#holds-list"));
  for (const r of list) {
    const name = holdName(r);
    const info = S.products.get(r.sku_id);
    ul.append(h("li", { class: "hold-row", "data-reservation": r.id },
      h("span", { class: "hold-name" }, h("strong", { text: name }), info?.sku ? h("span", { class: "muted", text: " · " + skuLabel(info.sku) }) : null),
      h("span", { text: money(r.price_minor * r.quantity, r.currency) }),
      h("span", { class: "hold", "data-hold-time": r.id, text: holdText(r) }),
      r.state === "held" ? h("span", { class: "hold-actions" },
        h("button", { type: "button", class: "primary small", i18n: "offer.checkout", "aria-label": t("holds.checkout.of", { name }), onclick: () => openCheckout(r.id) }),
        h("button", { type: "button", class: "secondary small", i18n: "holds.release", "aria-label": t("holds.release.of", { name }), "data-release": r.id, onclick: () => release(r.id) })) : null));
  }
}

async function pay(ev) {
  ev.preventDefault();
  const hold = currentHold();
  if (!hold) { $("#co-error").textContent = t("co.expired"); return; }
  const val = (id) => $(id).value.trim();
  const body = { reservation_id: hold.id };
  if (!$("#co-new").disabled) {
    body.shipping = {
      name: val("#ship-name"), line1: val("#ship-line1"), line2: val("#ship-line2"), city: val("#ship-city"),
      region: val("#ship-region"), postal_code: val("#ship-postal"), country: val("#ship-country"), phone: val("#ship-phone"),
    };
    body.save_address = $("#co-save-address").checked;
  } else {
    body.address_id = $("#co-address").value;
  }
  if (coupons.code()) body.coupon_code = coupons.code();
  if ($("#card").value === "saved") body.use_saved_payment = true;
  else { body.payment_token = $("#card").value; body.remember_payment = $("#co-remember").checked; }
  const btn = $("#co-pay");
  btn.disabled = true;
  $("#co-error").textContent = "";
  S.payKey ||= crypto.randomUUID(); // a retry after a network error reuses it
  try {
    let { order } = await post("/api/orders", body, { "Idempotency-Key": S.payKey });
    S.payKey = null;
    if (order.coupon_code) coupons.forget();
    for (let i = 0; order.state === "pending" && i < 20; i++) {
      $("#co-error").textContent = t("co.confirming");
      await sleep(1500);
      order = (await get(`/api/orders/${order.id}`)).order;
    }
    S.holds.delete(hold.id);
    S.current = null;
    renderHolds();
    upsertOrder(order);
    confirmOrder(order);
    loadHolds();
    refreshWallet();
  } catch (e) {
    if (e.status !== 0) S.payKey = null;
    $("#co-error").textContent = e.text ? e.text() : String(e);
  } finally {
    btn.disabled = false;
  }
}

function confirmOrder(o) {
  $("#co-form").hidden = true;
  const done = $("#co-done");
  done.hidden = false;
  $("#co-done-body").textContent = t(o.state === "paid" ? "co.done.body" : "co.done.pending",
    { total: money(o.total_minor, o.currency), id: o.id.slice(0, 8) });
  done.focus();
  renderOffers();
}

// release lets one hold go (the sheet's, without an id); the list is then
// read again, so it shows what the server holds.
async function release(id) {
  if (typeof id !== "string") id = S.current;
  const r = id && S.holds.get(id);
  if (id === S.current && $("#checkout").open) $("#checkout").close();
  if (!r) return;
  try {
    await del(`/api/reservations/${id}`);
    announceHolds(t("holds.released", { name: holdName(r) }));
  } catch (e) {
    if (e.status !== 404 && e.status !== 410) { toast(e.text ? e.text() : String(e)); return; }
  }
  S.holds.delete(id);
  if (S.current === id) S.current = null;
  renderHolds();
  renderOffers();
  loadHolds();
}

async function loadOrders() {
  if (!currentUser()) { S.orders = []; renderOrders(); return; }
  try {
    const { orders } = await get("/api/orders?limit=200");
    S.orders = orders.filter((o) => o.show_id === showID);
  } catch { S.orders = []; }
  renderOrders();
  renderOffers();
}

function upsertOrder(o) {
  if (o.show_id !== showID) return;
  const i = S.orders.findIndex((x) => x.id === o.id);
  if (i >= 0) S.orders[i] = o; else S.orders.unshift(o);
  renderOrders();
  renderOffers();
}

// ---- notify me, calendar

async function notify() {
  const u = await requireLogin();
  if (!u) return;
  const status = $("#notify-status");
  try {
    if (S.subscribed) await del(`/api/shows/${showID}/subscription`);
    else await post(`/api/shows/${showID}/subscription`);
    S.subscribed = !S.subscribed;
    status.textContent = t(S.subscribed ? "player.notify.on" : "player.notify.off");
  } catch (e) {
    status.textContent = e.status === 404 && /no API route/.test(e.message) || e.status === 501 || e.status === 405
      ? t("player.notify.missing") : e.text();
  }
  renderPrelive();
}

async function loadSubscribed() {
  if (!currentUser() || S.show.state !== "scheduled") return;
  try {
    const r = await get(`/api/shows/${showID}/subscription`);
    S.subscribed = !!r.subscription?.subscribed;
    renderPrelive();
  } catch { /* not offered by this server: the button still tries */ }
}

// ---- wiring and rendering

function wire() {
  $("#unmute").addEventListener("click", () => {
    const v = $("#video");
    v.muted = !v.muted;
    if (!v.muted) v.play().catch(() => {});
    coStage?.setMuted(v.muted);
    renderVideo();
  });
  $("#video").addEventListener("playing", () => { if (S.video !== "playing") setVideo("playing"); });
  $("#chat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("#chat-text");
    const text = input.value.trim();
    if (!text) return;
    if (!currentUser()) { await requireLogin(); return; }
    $("#chat-error").textContent = "";
    if (room?.send({ type: "chat", id: "chat-" + crypto.randomUUID().slice(0, 8), text })) input.value = "";
    else showChatError(t("chat.reconnecting"));
  });
  const bar = $("#reaction-bar");
  for (const [name, glyph] of REACTIONS) {
    bar.append(h("button", { type: "button", class: "react", "data-react": name, "data-i18n-label": "react." + name,
      "aria-label": t("react." + name), text: glyph,
      onclick: async () => { if (!currentUser()) { await requireLogin(); return; } room?.send({ type: "react", emoji: name }); } }));
  }
  // A tap on a product card (its buy button included) counts for the
  // show's funnel; once per card every few seconds is enough.
  const tapped = new Map();
  for (const box of [$("#rail"), $("#pinned")]) {
    box.addEventListener("click", (ev) => {
      const id = ev.target.closest("[data-offer]")?.dataset.offer;
      if (!id || Date.now() - (tapped.get(id) || 0) < 5000) return;
      tapped.set(id, Date.now());
      room?.send({ type: "tap", offer_id: id });
    });
  }
  $("#co-form").addEventListener("submit", pay);
  $("#co-release").addEventListener("click", release);
  $("#co-address").addEventListener("change", (ev) => { ev.target.dataset.touched = "1"; renderAddressChoice(); });
  $("#card").addEventListener("change", (ev) => { ev.target.dataset.touched = "1"; renderCardChoice(); });
  $("#co-close").addEventListener("click", () => $("#checkout").close());
  $("#co-apply").addEventListener("click", () => coupons.apply(currentHold(), renderCheckout));
  $("#co-coupon").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); coupons.apply(currentHold(), renderCheckout); } });
  $("#co-done-close").addEventListener("click", () => $("#checkout").close());
  $("#notify").addEventListener("click", notify);
  $("#share").addEventListener("click", share);
  $("#bag-open").addEventListener("click", openBag);
  $("#bag-close").addEventListener("click", closeBag);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("#checkout").open) closeBag(); });
  $("#add-cal").addEventListener("click", () => download(icsFor([S.show], location.origin), `${showID}.ics`));
  loadSubscribed();
}

function renderAll() {
  if (!S.show) return;
  document.title = `${S.show.title} · ${t("app.name")}`;
  renderTop();
  $("#show-title").textContent = S.show.title;
  // The real start (and end) once the show went live, else its schedule.
  $("#show-when").textContent = showWhen(S.show);
  $("#went-live").textContent = wentLive(S.show);
  $("#ended-when").textContent = S.ended ? showWhen(S.show) : "";
  // After the show there is nobody to talk or react to: the log stays for
  // reading, the inputs go.
  document.body.classList.toggle("show-ended", Boolean(S.ended));
  $("#chat-log").dataset.empty = S.ended ? "" : t("chat.empty");
  renderVideo();
  renderViewers();
  renderPrelive();
  renderOffers();
  renderChat();
  renderOrders();
  renderHolds();
  renderReactions({});
  const canChat = !S.ended;
  $("#chat-text").disabled = !canChat;
  $("#chat-form button").disabled = !canChat;
}

function renderVideo() {
  const ov = $("#overlay"), txt = $("#overlay-text"), v = $("#video");
  const playing = (S.video === "playing" && !S.ended) || !!S.replay;
  ov.hidden = playing;
  // The cover stands in for the video until it plays, and after the end.
  setPicture($("#cover"), playing ? "" : S.show?.cover_url || "", "100vw");
  $("#video-wrap").classList.toggle("has-cover", !playing && !!S.show?.cover_url);
  $("#live-badge").hidden = !playing || !!S.replay;
  $("#unmute").hidden = !playing || !!S.replay; // the replay has the video's own controls
  $("#unmute").setAttribute("aria-label", t(v.muted ? "player.unmute" : "player.mute"));
  $("#unmute").dataset.i18nLabel = v.muted ? "player.unmute" : "player.mute";
  $("#unmute .i").className = "i " + (v.muted ? "i-muted" : "i-sound");
  const key = S.ended ? "player.v.ended" : {
    connecting: "player.v.connecting", waiting: S.show?.state === "live" ? "player.v.offair" : "player.v.waiting",
    starting: "player.v.starting", reconnecting: "player.v.reconnecting",
  }[S.video] || "player.v.connecting";
  txt.textContent = t(key);
  renderPrelive();
}

// renderTop fills the show's bar over the video: the brand's avatar and
// name, the host, and the bag's count.
function renderTop() {
  const b = S.brand;
  if (b && !$("#follow")) {
    $("#follow-slot").append(followButton(b, { cls: "glass follow-top", id: "follow" }));
    $("#ended-follow-slot").append(followButton(b, { cls: "primary", count: true, id: "ended-follow" }));
    $("#ended-brand").href = `/brands/${b.slug}`;
  }
  const av = clear($("#brand-avatar"));
  if (b?.logo_url) av.append(picture(b.logo_url, { sizes: "36px", width: 36, height: 36, eager: true }));
  else av.textContent = (b?.name || S.show.title || "·").trim().charAt(0).toUpperCase();
  $("#brand-name").textContent = b?.name || S.show.title;
  const host = S.show.hosts?.[0];
  $("#host-name").textContent = host ? t("player.host", { name: host.name }) : "";
  const hav = clear($("#host-avatar"));
  hav.hidden = !host?.avatar_url;
  if (host?.avatar_url) hav.append(picture(host.avatar_url, { sizes: "18px", width: 18, height: 18, eager: true }));
  const n = groups().length;
  $("#bag-count").textContent = n ? number(n) : "";
}

function renderViewers() {
  $("#viewers").textContent = S.viewers == null || S.ended ? "" : t("player.viewers", { n: number(S.viewers) });
}

function renderPrelive() {
  if (!S.show) return;
  const pre = S.show.state === "scheduled" && S.video !== "playing" && !S.ended;
  $("#prelive").hidden = !pre;
  $("#ended").hidden = !S.ended;
  $("#ended-h").textContent = t(S.show.state === "cancelled" ? "player.cancelled" : "player.ended");
  $("#notify").textContent = t(S.subscribed ? "player.notify.cancel" : "player.notify");
  $("#notify").setAttribute("aria-pressed", S.subscribed ? "true" : "false");
  const left = Date.parse(S.show.starts_at) - (room ? room.now() : Date.now());
  $("#countdown").textContent = left > 0 ? t("player.startsin", { time: clock(left) }) : t("player.startsoon");
}

function offerAction(o) {
  const now = room ? room.now() : Date.now();
  const ds = dropState(o, now);
  const held = holdOf(o.id);
  if (held) {
    return [h("button", { type: "button", class: "primary", i18n: "offer.checkout", "data-checkout": o.id, onclick: () => openCheckout(held.id) }),
      h("span", { class: "hold", "data-hold": o.id, "data-hold-time": held.id, text: holdText(held) })];
  }
  const pending = intents.get(o.id)?.busy;
  const kept = S.orders.filter((x) => x.offer_id === o.id && ["paid", "pending", "fulfilled"].includes(x.state));
  const mine = kept.length > 0;
  const units = kept.reduce((n, x) => n + x.quantity, 0);
  let key = "offer.buy", disabled = false;
  if (o.price_minor === 0) return [h("span", { class: "prize", i18n: "giveaway.prize" })]; // won in a giveaway, never bought
  if (S.ended && !S.replay?.on_sale) { key = "offer.ended"; disabled = true; }
  else if (o.per_customer_limit > 0 && units >= o.per_customer_limit) { key = "offer.limit"; disabled = true; }
  else if (o.available <= 0) { key = "offer.soldout"; disabled = true; }
  else if (ds === "pending") { key = "offer.drop.soon"; disabled = true; }
  else if (ds === "closed") { key = "offer.drop.closed"; disabled = true; }
  if (pending) key = "offer.reserving";
  return [h("button", { type: "button", class: "primary buy", i18n: key, disabled, "aria-busy": pending ? "true" : "false", "data-buy": o.id, onclick: () => buy(o) }),
    mine ? h("span", { class: "owned", i18n: "offer.owned" }) : null];
}

// groups gathers the show's offers by product, in the show's order: one
// card in the bag per product, one variant per SKU the show offers.
function groups() {
  const by = new Map();
  for (const id of S.order) {
    const o = S.offers.get(id);
    if (!o) continue;
    const key = S.products.get(o.sku_id)?.product?.id || o.id;
    if (!by.has(key)) by.set(key, { key, offers: [] });
    by.get(key).offers.push(o);
  }
  return [...by.values()];
}

// chosen is the variant a product's card is showing: the one the viewer
// picked, else the one the host pinned, else the first in the show's order
// with stock, else the first.
function chosen(g) {
  const id = S.variant.get(g.key) || S.pinned;
  return g.offers.find((o) => o.id === id) || g.offers.find((o) => o.available > 0) || g.offers[0];
}

// skuOrder sorts a product's variants as the brand lists its SKUs (38, 40, 42).
function skuOrder(offers) {
  const at = (o) => {
    const info = S.products.get(o.sku_id);
    return info ? info.product.skus.findIndex((s) => s.id === o.sku_id) : 0;
  };
  return offers.slice().sort((a, b) => at(a) - at(b));
}

function productCard(g, now) {
  const o = chosen(g);
  const info = S.products.get(o.sku_id);
  const el = card(o, info, { now, action: offerAction(o), sizes: "(min-width: 56rem) 280px, 104px" });
  el.classList.add("product");
  el.dataset.product = g.key;
  const regular = info?.sku?.price_minor;
  if (regular > o.price_minor && info.sku.currency === o.currency) {
    el.querySelector(".price")?.append(h("span", { class: "save", text: t("offer.save", { pct: Math.round((1 - o.price_minor / regular) * 100) }) }));
  }
  if (g.offers.length > 1) {
    const name = info?.product?.name || t("offer.unknown");
    const box = h("fieldset", { class: "variants" }, h("legend", { class: "sr-only", text: t("offer.variants", { name }) }));
    for (const v of skuOrder(g.offers)) {
      const vi = S.products.get(v.sku_id);
      box.append(h("button", {
        type: "button", class: "variant" + (v.available <= 0 ? " out" : ""), "data-variant": v.id,
        "aria-pressed": v.id === o.id ? "true" : "false",
        onclick: () => { S.variant.set(g.key, v.id); renderOffers(); document.querySelector(`[data-variant="${v.id}"]`)?.focus(); },
      }, h("span", { text: vi?.sku ? skuLabel(vi.sku) : money(v.price_minor, v.currency) }),
      h("span", { class: "v-stock", text: stockText(v) })));
    }
    el.querySelector(".sku")?.replaceWith(box);
  }
  return el;
}

function renderOffers() {
  const now = room ? room.now() : Date.now();
  // Redrawing must not steal a keyboard user's place.
  const focused = document.activeElement;
  const refocus = focused?.dataset?.buy ? `[data-buy="${focused.dataset.buy}"]` : null;
  const inPinned = !!focused?.closest?.("#pinned");
  const rail = clear($("#rail"));
  for (const g of groups()) rail.append(h("li", {}, productCard(g, now)));
  if (S.order.length === 0) rail.append(h("li", { class: "muted", i18n: "player.noproducts" }));
  renderPinned();
  renderHold();
  if (S.show) renderTop();
  if (refocus) document.querySelector((inPinned ? "#pinned " : "#rail ") + refocus)?.focus();
}

// ---- the bag sheet (phones; on wide screens the products are always shown)

function openBag() {
  document.body.classList.add("bag-open");
  $("#bag-open").setAttribute("aria-expanded", "true");
  $("#rail-h").focus();
}

function closeBag() {
  if (!document.body.classList.contains("bag-open")) return;
  document.body.classList.remove("bag-open");
  $("#bag-open").setAttribute("aria-expanded", "false");
  $("#bag-open").focus();
}

// ---- share

async function share() {
  const url = `${location.origin}/shows/${showID}`;
  if (navigator.share) {
    try { await navigator.share({ title: S.show.title, url }); return; } catch (e) { if (e.name === "AbortError") return; }
  }
  try {
    await navigator.clipboard.writeText(url);
    toast(t("player.share.copied"));
  } catch {
    toast(t("player.share.link", { url }));
  }
}

// ---- reactions rising over the video

const calm = matchMedia("(prefers-reduced-motion: reduce)");
let lane = 0;
calm.addEventListener?.("change", () => { if (calm.matches) clear($("#hearts")); });

// rise floats a few of each reaction up the video: at most a handful per
// tick whatever the counts, and none for people who asked for less motion.
function rise(delta) {
  const box = $("#hearts");
  if (calm.matches || document.hidden) { clear(box); return; }
  const glyphs = new Map(REACTIONS);
  let budget = 8;
  for (const [k, n] of Object.entries(delta)) {
    for (let i = 0; i < Math.min(n, 3) && budget > 0 && box.childElementCount < 24; i++, budget--) {
      const el = h("span", { class: `heart l${lane++ % 4}`, text: glyphs.get(k) || "\u2764\uFE0F" });
      el.addEventListener("animationend", () => el.remove());
      setTimeout(() => el.remove(), 4000); // no animationend when the animation is switched off meanwhile
      box.append(el);
    }
  }
}

function renderPinned() {
  const sec = $("#pinned");
  const o = S.pinned && S.offers.get(S.pinned);
  sec.hidden = !o;
  const box = clear($("#pinned-card"));
  if (!o) return;
  const now = room ? room.now() : Date.now();
  box.append(h("p", { class: "eyebrow", i18n: "player.pinned" }),
    card(o, S.products.get(o.sku_id), { now, action: offerAction(o) }));
  // Announce stock on the pinned card only: the rail would be too chatty.
  box.querySelector(".stock")?.setAttribute("aria-live", "polite");
}

function chatItem(m) {
  return h("li", { "data-seq": m.seq }, h("strong", { class: "chat-name", text: m.user?.name || "" }), " ",
    h("span", { class: "chat-text", text: m.text }));
}

function renderChat() {
  const log = clear($("#chat-log"));
  for (const m of S.chat) log.append(chatItem(m));
  log.scrollTop = log.scrollHeight;
}

function appendChat(m) {
  const log = $("#chat-log");
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(chatItem(m));
  while (log.children.length > 200) log.firstElementChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}

function renderReactions(delta) {
  rise(delta);
  const el = $("#reaction-counts");
  const parts = REACTIONS.filter(([k]) => S.counts[k]).map(([k, g]) => `${g} ${number(S.counts[k])}`);
  el.textContent = parts.join("  ");
  for (const k of Object.keys(delta)) {
    const b = document.querySelector(`[data-react="${k}"]`);
    if (b) { b.classList.remove("pop"); void b.offsetWidth; b.classList.add("pop"); }
  }
}

function renderOrders() {
  const sec = $("#my-orders");
  sec.hidden = S.orders.length === 0;
  const ul = clear($("#orders-list"));
  for (const o of S.orders) {
    const info = S.products.get(o.sku_id);
    ul.append(h("li", { class: "order-row", "data-order": o.id },
      h("span", { text: info?.product?.name || t("offer.unknown") }),
      h("span", { text: money(o.total_minor, o.currency) }),
      h("span", { class: "state state-" + o.state, text: t("order.state." + o.state) })));
  }
}

function tick() {
  if (!S.show) return;
  renderHold();
  renderPrelive();
  draws.tick();
  // Drop countdowns move every second; redraw only the cards that have one.
  const now = room ? room.now() : Date.now();
  if ([...S.offers.values()].some((o) => o.drop && dropState(o, now) !== "none")) renderOffers();
}

// ---- the ended screen: what sold, the brand's next show, follow

// loadEnded reads what the show sold (the REST read carries sold counts) and
// the brand's next scheduled show.
async function loadEnded() {
  try {
    const { show } = await get(`/api/shows/${showID}`);
    S.sold = show.offers.filter((o) => o.sold > 0).map((o) => ({ sku_id: o.sku_id, sold: o.sold }));
  } catch { S.sold = []; }
  try {
    const { hub } = await get(`/api/brands/${S.show.brand_id}/hub`);
    S.next = [...hub.live, ...hub.upcoming].find((x) => x.id !== showID) || null;
  } catch { S.next = null; }
  renderEnded();
}

function renderEnded() {
  renderReplay();
  const sold = S.sold || [];
  $("#ended-sold-box").hidden = sold.length === 0;
  clear($("#ended-sold")).append(...sold.map((x) => {
    const info = S.products.get(x.sku_id);
    return h("li", { class: "ended-sold-row" },
      picture(variantImage(info?.product, info?.sku), { sizes: "40px", width: 40, height: 40 }),
      h("span", { text: [info?.product?.name || t("offer.unknown"), info?.sku ? skuLabel(info.sku) : ""].filter(Boolean).join(" · ") }),
      h("strong", { class: "sold-n", text: t("player.ended.soldn", { n: number(x.sold) }) }));
  }));
  $("#ended-next").hidden = !S.next;
  if (S.next) {
    $("#ended-next-link").href = `/shows/${S.next.id}`;
    $("#ended-next-link").textContent = S.next.title;
    $("#ended-next-when").textContent = S.next.state === "live" ? t("player.live") : dateTime(S.next.starts_at);
  }
}

// ---- "just bought" notices

let boughtTimer = 0;

// announceBought shows who just bought what over the video for a few
// seconds; a buyer who keeps out of notices is "someone".
function announceBought(f) {
  const o = S.offers.get(f.offer_id);
  const name = (o && S.products.get(o.sku_id)?.product?.name) || t("offer.unknown");
  const el = $("#bought-notice");
  el.textContent = f.buyer ? t("bought.named", { who: f.buyer, name }) : t("bought.someone", { name });
  el.hidden = false;
  el.classList.remove("pop");
  void el.offsetWidth; // restart the animation for back-to-back notices
  el.classList.add("pop");
  clearTimeout(boughtTimer);
  boughtTimer = setTimeout(() => { el.hidden = true; }, 4000);
}
