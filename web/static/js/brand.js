// The brand console, /brand: the show calendar (month and week) with
// scheduling and Pavilion Day booking, products and stock, the brand hub,
// per-show analytics, the data bank (funnel, lost intents and audiences
// across shows) and orders with CSV export.
import { t, money, number, dateTime, monthYear, weekday, dayMonth, time, timeZone, onChange, showWhen } from "./i18n.js";
import { h, $, $$, clear } from "./dom.js";
import { get, post, patch, ApiError, hasRole, productIndex, skuLabel, uploadImage } from "./api.js";
import { start, onUser, openLogin, currentUser, toast } from "./shell.js";
import { funnelChart, barChart, timeChart } from "./chart.js";
import { picture } from "./media.js";
import { BrandCoupons } from "./brand-coupons.js";

const TABS = ["calendar", "products", "hub", "analytics", "bank", "orders", "coupons"];
const S = {
  brands: [], brand: null, shows: [], others: [], products: [], bySKU: new Map(), hosts: null,
  view: "month", cursor: startOfDay(new Date()), tab: "calendar", orders: [],
};

let coupons;

main();

async function main() {
  await start();
  onUser((u) => (u ? boot() : location.reload()));
  onChange(() => renderAll());
  if (!currentUser()) return gate(t("brand.gate.login"), true);
  await boot();
}

async function boot() {
  const u = currentUser();
  $("#gate").hidden = true;
  if (!hasRole(u, "admin") && !hasRole(u, "brand_admin")) return gate(t("brand.gate.role"));
  const { brands } = await get("/api/brands");
  S.brands = hasRole(u, "admin") ? brands : brands.filter((b) => (u.brand_ids || []).includes(b.id));
  if (S.brands.length === 0) return gate(t("brand.gate.none"));
  $("#console").hidden = false;
  const pick = $("#brand-pick");
  for (const b of S.brands) pick.append(h("option", { value: b.id, text: b.name }));
  $("#brand-pick-row").hidden = S.brands.length < 2;
  const saved = sessionStorage.getItem("pavilion.brand");
  if (S.brands.some((b) => b.id === saved)) pick.value = saved;
  pick.addEventListener("change", () => { sessionStorage.setItem("pavilion.brand", pick.value); selectBrand(); });
  wire();
  coupons = new BrandCoupons({ brand: () => S.brand, shows: () => S.shows });
  if (hasRole(u, "admin")) {
    S.hosts = await get("/api/users?limit=200").then((r) => r.users.filter((x) => (x.roles || []).includes("host"))).catch(() => null);
  }
  await selectBrand();
  const fromHash = location.hash.slice(1);
  showTab(TABS.includes(fromHash) ? fromHash : "calendar");
}

function gate(text, login = false) {
  $("#gate").hidden = false;
  $("#gate-text").textContent = text;
  $("#gate-login").hidden = !login;
  $("#gate-login").onclick = () => openLogin();
}

async function selectBrand() {
  S.brand = S.brands.find((b) => b.id === $("#brand-pick").value) || S.brands[0];
  await Promise.all([loadShows(), loadProducts()]);
  fillHub();
  renderAll();
  loadOrders();
  coupons.load();
}

async function loadShows() {
  const [mine, all] = await Promise.all([
    get(`/api/shows?brand=${S.brand.id}&limit=200`).then((r) => r.shows),
    get("/api/shows?state=scheduled,live,ended&limit=200").then((r) => r.shows).catch(() => []),
  ]);
  S.shows = mine;
  // Other brands' Pavilion Days: the days already taken.
  S.others = all.filter((s) => s.kind === "pavilion_day" && s.brand_id !== S.brand.id);
}

async function loadProducts() {
  const ix = await productIndex(S.brand.id);
  S.products = ix.products;
  S.bySKU = ix.bySKU;
}

// ---- tabs

function showTab(name) {
  S.tab = name;
  for (const n of TABS) {
    const tab = $("#tab-" + n), panel = $("#p-" + n);
    const on = n === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    panel.hidden = !on;
  }
  history.replaceState(null, "", "#" + name);
  if (name === "analytics") renderAnalytics();
  if (name === "bank") loadBank();
}

function wire() {
  for (const n of TABS) $("#tab-" + n).addEventListener("click", () => showTab(n));
  $(".tabs").addEventListener("keydown", (ev) => {
    const i = TABS.indexOf(S.tab);
    const j = ev.key === "ArrowRight" ? (i + 1) % TABS.length : ev.key === "ArrowLeft" ? (i + TABS.length - 1) % TABS.length : -1;
    if (j < 0) return;
    ev.preventDefault();
    showTab(TABS[j]);
    $("#tab-" + TABS[j]).focus();
  });
  $("#cal-prev").addEventListener("click", () => moveCal(-1));
  $("#cal-next").addEventListener("click", () => moveCal(1));
  $("#cal-today").addEventListener("click", () => { S.cursor = startOfDay(new Date()); renderCalendar(); });
  $("#cal-view").addEventListener("change", () => { S.view = $("#cal-view").value; renderCalendar(); });
  $("#sched").addEventListener("submit", schedule);
  $("#s-kind").addEventListener("change", () => {
    if ($("#s-kind").value === "pavilion_day" && $("#s-start").value) {
      const d = $("#s-start").value.slice(0, 10);
      $("#s-start").value = `${d}T10:00`;
      $("#s-end").value = `${d}T20:00`;
    }
  });
  $("#hub").addEventListener("submit", saveHub);
  $("#h-logo-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    $("#h-error").textContent = "";
    try { $("#h-logo").value = (await uploadImage(S.brand.id, f)).url; } catch (e) { $("#h-error").textContent = e.text(); }
  });
  $("#new-prod").addEventListener("submit", createProduct);
  $("#a-show").addEventListener("change", renderAnalytics);
  $("#bank-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadBank(); });
  $("#tell").addEventListener("submit", tellFollowers);
  // The data bank's charts are drawn to their box's width: draw again when it changes.
  let redraw = 0;
  window.addEventListener("resize", () => {
    clearTimeout(redraw);
    redraw = setTimeout(() => { if (S.tab === "bank" && S.bank) renderBank(); }, 150);
  });
  const today = new Date();
  $("#b-to").value = isoDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() + 7));
  $("#b-from").value = isoDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 29));
  $("#o-show").addEventListener("change", loadOrders);
  $("#o-state").addEventListener("change", loadOrders);
  const d = new Date(Date.now() + 86400000);
  $("#s-start").value = localInput(new Date(d.getFullYear(), d.getMonth(), d.getDate(), 18, 0));
  $("#s-end").value = localInput(new Date(d.getFullYear(), d.getMonth(), d.getDate(), 19, 30));
}

function renderAll() {
  if (!S.brand) return;
  $("#brand-name").textContent = S.brand.name;
  document.title = `${t("brand.title")} · ${S.brand.name}`;
  $("#s-zone").textContent = t("sched.zone", { zone: timeZone() });
  renderCalendar();
  renderHosts();
  renderProducts();
  renderShowPickers();
  renderOrders();
  coupons?.render();
  if (S.tab === "analytics") renderAnalytics();
  if (S.tab === "bank") renderBank();
}

// ---- calendar

function startOfDay(d) { return new Date(d.getFullYear(), d.getMonth(), d.getDate()); }
function addDays(d, n) { return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n); }
function sameDay(a, b) { return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate(); }
// Weeks start on Monday (ISO 8601).
function weekStart(d) { return addDays(d, -((d.getDay() + 6) % 7)); }
function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function moveCal(n) {
  const c = S.cursor;
  S.cursor = S.view === "month" ? new Date(c.getFullYear(), c.getMonth() + n, 1) : addDays(c, 7 * n);
  renderCalendar();
}

function renderCalendar() {
  const cal = clear($("#cal"));
  cal.classList.toggle("week", S.view === "week");
  let first, days;
  if (S.view === "month") {
    const m = new Date(S.cursor.getFullYear(), S.cursor.getMonth(), 1);
    first = weekStart(m);
    const last = addDays(new Date(m.getFullYear(), m.getMonth() + 1, 1), -1);
    days = Math.round((addDays(weekStart(last), 7) - first) / 86400000);
    $("#cal-title").textContent = monthYear(m);
  } else {
    first = weekStart(S.cursor);
    days = 7;
    $("#cal-title").textContent = t("cal.weekof", { date: dayMonth(first) });
  }
  for (let i = 0; i < 7; i++) cal.append(h("div", { class: "dow", "aria-hidden": "true", text: weekday(addDays(first, i)) }));
  const today = startOfDay(new Date());
  const events = [...S.shows.filter((s) => s.state !== "cancelled").map((s) => ({ s, mine: true })), ...S.others.map((s) => ({ s, mine: false }))];
  for (let i = 0; i < days; i++) {
    const d = addDays(first, i);
    const cell = h("div", {
      class: "day" + (S.view === "month" && d.getMonth() !== S.cursor.getMonth() ? " out" : "") + (sameDay(d, today) ? " today" : ""),
      "data-date": localInput(d).slice(0, 10),
    }, h("span", { class: "num", text: S.view === "month" ? d.getDate() : dayMonth(d) }));
    for (const { s, mine } of events) {
      const a = startOfDay(new Date(s.starts_at)), b = new Date(s.ends_at);
      if (d < a || d >= b) continue;
      const pday = s.kind === "pavilion_day";
      // A show that went live is labelled with when it really did.
      const label = mine ? `${time(s.went_live_at || s.starts_at)} ${s.title}` : t("cal.taken");
      cell.append(mine
        ? h("a", { class: "ev" + (pday ? " pday" : ""), href: `/studio/${s.id}`, text: label, title: `${s.title} · ${showWhen(s)}` })
        : h("span", { class: "ev pday", text: label, title: t("cal.taken") }));
    }
    cal.append(cell);
  }
}

function renderHosts() {
  const box = clear($("#s-hosts-list"));
  if (!S.hosts) return;
  for (const u of S.hosts) {
    const id = "host-" + u.id;
    box.append(h("div", { class: "check" }, h("input", { type: "checkbox", id, value: u.id, class: "host-check" }),
      h("label", { for: id, text: `${u.display_name} (${u.email})` })));
  }
}

async function schedule(ev) {
  ev.preventDefault();
  const err = $("#s-error"), ok = $("#s-ok");
  err.textContent = ok.textContent = "";
  const hostIDs = [...$$(".host-check:checked").map((c) => c.value),
    ...$("#s-hosts").value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean)];
  const body = {
    brand_id: S.brand.id, title: $("#s-title").value.trim(), description: $("#s-desc").value.trim(),
    kind: $("#s-kind").value, visibility: $("#s-vis").value,
    starts_at: new Date($("#s-start").value).toISOString(), ends_at: new Date($("#s-end").value).toISOString(),
    time_zone: timeZone(), host_ids: [...new Set(hostIDs)],
  };
  try {
    const cover = $("#s-cover").files[0];
    if (cover) body.cover_url = (await uploadImage(S.brand.id, cover)).url;
    const { show } = await post("/api/shows", body);
    ok.textContent = t("sched.ok", { title: show.title, when: dateTime(show.starts_at) });
    $("#sched").reset();
    await loadShows();
    S.cursor = startOfDay(new Date(show.starts_at));
    renderAll();
  } catch (e) {
    err.textContent = e instanceof ApiError ? e.text() : String(e);
  }
}

// ---- products

function majorString(minor, currency) {
  const d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  const s = String(minor).padStart(d + 1, "0");
  return d ? `${s.slice(0, -d)}.${s.slice(-d)}` : s;
}

// parseMinor reads "2450", "2450.5" or "2450,50" as minor units, without floats.
function parseMinor(text, currency) {
  const d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  const m = String(text).trim().match(/^(\d+)(?:[.,](\d+))?$/);
  if (!m || (m[2] || "").length > d) return null;
  return Number(m[1] + (m[2] || "").padEnd(d, "0"));
}

function renderProducts() {
  const tb = clear($("#prod-rows"));
  for (const p of S.products) {
    for (const [i, s] of (p.skus || []).entries()) {
      const price = h("input", { id: "price-" + s.id, inputmode: "decimal", value: majorString(s.price_minor, s.currency), "aria-label": t("prod.price.of", { sku: s.code }) });
      const stock = h("input", { id: "stock-" + s.id, type: "number", min: 0, value: s.on_hand, "aria-label": t("prod.onhand.of", { sku: s.code }) });
      tb.append(h("tr", { "data-sku": s.id },
        h("td", {}, i === 0 ? h("span", { class: "prod-name" }, p.images?.[0] ? picture(p.images[0], { sizes: "40px", width: 40, height: 40, cls: "thumb" }) : null, h("span", { text: p.name }),
          h("label", { class: "add-pic small-text", "data-add-picture": p.id }, h("span", { i18n: "img.add" }),
            h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", class: "sr-only", "aria-label": t("img.add.of", { name: p.name }),
              onchange: (ev) => addPicture(p, ev.target) }))) : null),
        h("td", {}, h("span", { text: s.code }), h("br"), h("span", { class: "muted small-text", text: skuLabel(s) })),
        h("td", {}, price, " ", h("span", { class: "muted small-text", text: s.currency })),
        h("td", {}, stock),
        h("td", { text: number(s.sold) }),
        h("td", { text: number(s.held) }),
        h("td", {}, h("button", { type: "button", class: "secondary small", i18n: "common.save", "aria-label": t("prod.save.of", { sku: s.code }),
          onclick: () => saveSKU(s, price, stock) }))));
    }
  }
  if (S.products.length === 0) tb.append(h("tr", {}, h("td", { colspan: 7, class: "muted", i18n: "common.none" })));
}

async function saveSKU(s, priceEl, stockEl) {
  const minor = parseMinor(priceEl.value, s.currency);
  if (minor === null || minor <= 0) { toast(t("prod.badprice")); priceEl.focus(); return; }
  try {
    await patch(`/api/skus/${s.id}`, { price_minor: minor, on_hand: Number(stockEl.value) });
    toast(t("common.saved"));
    await loadProducts();
    renderProducts();
  } catch (e) { toast(e.text()); }
}

// addPicture uploads a file and appends it to a product's pictures.
async function addPicture(p, input) {
  const f = input.files[0];
  if (!f) return;
  try {
    const im = await uploadImage(S.brand.id, f);
    await patch(`/api/products/${p.id}`, { images: [...(p.images || []), im.url] });
    toast(t("common.saved"));
    await loadProducts();
    renderProducts();
  } catch (e) { toast(e.text ? e.text() : String(e)); }
}

async function createProduct(ev) {
  ev.preventDefault();
  const err = $("#np-error");
  err.textContent = "";
  const cur = $("#np-cur").value.trim().toUpperCase();
  let minor = null;
  try { minor = parseMinor($("#np-price").value, cur); } catch { err.textContent = t("prod.badcurrency"); return; }
  if (minor === null) { err.textContent = t("prod.badprice"); return; }
  const attrs = {};
  const a = $("#np-attr").value.trim();
  if (a) {
    const [k, ...v] = a.split("=");
    if (v.length) attrs[k.trim()] = v.join("=").trim(); else attrs.variant = a;
  }
  try {
    // Pictures first: each is checked and re-encoded by the server, and the
    // product refers to them by their /media/ addresses.
    const images = [];
    for (const f of $("#np-image").files) images.push((await uploadImage(S.brand.id, f)).url);
    await post(`/api/brands/${S.brand.id}/products`, {
      name: $("#np-name").value.trim(), description: $("#np-desc").value.trim(), images,
      skus: [{ code: $("#np-code").value.trim(), attributes: attrs, price_minor: minor, currency: cur, on_hand: Number($("#np-stock").value) }],
    });
    $("#new-prod").reset();
    toast(t("common.saved"));
    await loadProducts();
    renderProducts();
  } catch (e) { err.textContent = e.text(); }
}

// ---- hub

function fillHub() {
  const b = S.brand;
  $("#h-name").value = b.name; $("#h-slug").value = b.slug; $("#h-story").value = b.story;
  $("#h-logo").value = b.logo_url; $("#h-web").value = b.website; $("#h-flag").value = b.flagship;
}

async function saveHub(ev) {
  ev.preventDefault();
  $("#h-error").textContent = $("#h-ok").textContent = "";
  try {
    const { brand } = await patch(`/api/brands/${S.brand.id}`, {
      name: $("#h-name").value.trim(), slug: $("#h-slug").value.trim(), story: $("#h-story").value.trim(),
      logo_url: $("#h-logo").value.trim(), website: $("#h-web").value.trim(), flagship: $("#h-flag").value.trim(),
    });
    Object.assign(S.brand, brand);
    $("#h-ok").textContent = t("common.saved");
    renderAll();
  } catch (e) { $("#h-error").textContent = e.text(); }
}

// ---- analytics

function renderShowPickers() {
  for (const [sel, withAll] of [[$("#a-show"), false], [$("#o-show"), true]]) {
    const keep = sel.value;
    clear(sel);
    if (withAll) sel.append(h("option", { value: "", i18n: "ord.allshows" }));
    const list = [...S.shows].sort((a, b) => Date.parse(b.starts_at) - Date.parse(a.starts_at));
    for (const s of list) sel.append(h("option", { value: s.id, text: `${s.title} · ${dateTime(s.starts_at)}` }));
    if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }
}

async function renderAnalytics() {
  const box = clear($("#a-body"));
  const id = $("#a-show").value;
  if (!id) { box.append(h("p", { class: "muted", i18n: "an.noshows" })); return; }
  let st;
  try {
    st = await get(`/api/shows/${id}/stats`);
    st = st.stats || st;
  } catch (e) {
    const missing = e.status === 501 || (e.status === 404 && /no API route/.test(e.message));
    box.append(h("p", { class: "panel", text: missing ? t("an.missing") : e.text() }));
    box.append(h("a", { class: "button secondary", href: `/api/shows/${id}/orders.csv`, i18n: "an.csv" }));
    return;
  }
  const gmv = (st.gmv || []).map((m) => money(m.minor, m.currency)).join(" + ") || "–";
  const kpi = (k, v) => h("div", {}, h("dt", { i18n: k }), h("dd", { text: v }));
  box.append(h("dl", { class: "stats-grid" },
    kpi("an.peak", number(st.peak_viewers)), kpi("an.unique", number(st.unique_viewers)),
    kpi("an.watch", t("an.minutes", { n: number(Math.round((st.avg_watch_seconds || 0) / 60)) })), kpi("an.chat", number(st.chat_messages)),
    kpi("studio.orders", number(st.orders)), kpi("studio.gmv", gmv),
    kpi("an.conversion", new Intl.NumberFormat(document.documentElement.lang, { style: "percent", maximumFractionDigits: 1 }).format(st.conversion || 0)),
    kpi("an.units", number(st.units))));
  // The replay, after the show: its viewers and sales apart from the live
  // ones (its sales are part of the orders above).
  const rp = st.replay;
  if (rp && (rp.views || rp.reservations)) {
    box.append(h("div", { class: "panel" }, h("h3", { i18n: "an.replay" }), h("dl", { class: "stats-grid replay-stats" },
      kpi("an.replay.viewers", number(rp.viewers)), kpi("an.replay.views", number(rp.views)),
      kpi("an.replay.orders", number(rp.orders)), kpi("an.replay.gmv", (rp.gmv || []).map((m) => money(m.minor, m.currency)).join(" + ") || "–"))));
  }
  // Viewers and orders each on an axis of their own, from 0, with units:
  // on one shared axis the orders would lie flat; scaled to their own
  // maxima they could not be read at all.
  const chartBox = h("div", { class: "panel" }, h("h3", { i18n: "an.overtime" }),
    h("div", { id: "a-chart", class: "bank-wide" }), h("div", { id: "a-chart2", class: "bank-wide" }));
  box.append(chartBox);
  const mins = st.minutes || [];
  const common = { empty: t("an.nodata"), timeLabel: (ms) => time(new Date(ms).toISOString()), format: (v) => number(v) };
  timeChart($("#a-chart"), [{ label: t("studio.viewers"), points: mins.map((m) => [Date.parse(m.at), m.viewers]) }],
    { ...common, label: t("studio.viewers"), unit: t("an.unit.viewers") });
  timeChart($("#a-chart2"), [{ label: t("studio.orders"), points: mins.map((m) => [Date.parse(m.at), m.orders]) }],
    { ...common, label: t("studio.orders"), unit: t("an.unit.orders") });
  const steps = [["an.f.viewers", st.unique_viewers], ["an.f.taps", st.card_taps], ["an.f.reserved", st.reservations], ["an.f.orders", st.orders], ["an.f.buyers", st.buyers]];
  const top = Math.max(1, ...steps.map((s) => s[1] || 0));
  const funnel = h("div", { class: "funnel", role: "list" });
  for (const [k, n] of steps) {
    const bar = h("div", { class: "bar", role: "listitem", text: `${t(k)}: ${number(n || 0)}` });
    bar.style.width = `${Math.max(8, Math.round(((n || 0) / top) * 100))}%`;
    funnel.append(bar);
  }
  box.append(h("div", { class: "panel" }, h("h3", { i18n: "an.funnel" }), funnel));
  box.append(h("a", { class: "button secondary", href: `/api/shows/${id}/orders.csv`, i18n: "an.csv" }));
}

// ---- data bank

// isoDay is a local date as YYYY-MM-DD (the date input's value).
function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function bankQuery() {
  const q = new URLSearchParams({ from: $("#b-from").value, to: $("#b-to").value });
  if ($("#b-show").value) q.set("show", $("#b-show").value);
  return q;
}

async function loadBank() {
  $("#b-error").textContent = "";
  try {
    S.bank = (await get(`/api/brands/${S.brand.id}/insights?${bankQuery()}`)).insights;
  } catch (e) {
    S.bank = null;
    $("#b-error").textContent = e.status === 501 ? t("an.missing") : e.text();
  }
  renderBank();
}

// people formats a masked count: the number, or "fewer than 10".
const people = (p) => (p.count === null || p.count === undefined ? t("bank.fewer") : number(p.count));
const pct = (c) => (c === null || c === undefined ? "–" : new Intl.NumberFormat(document.documentElement.lang, { style: "percent", maximumFractionDigits: 1 }).format(c));

// table builds an accessible data table: a caption, header cells, rows.
function table(caption, head, rows, numeric = () => false) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "sr-only", text: caption }),
    h("thead", {}, h("tr", {}, ...head.map((c, i) => h("th", { scope: "col", class: numeric(i) ? "num" : "", text: c })))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => (i === 0 ? h("th", { scope: "row", text: c }) : h("td", { class: numeric(i) ? "num" : "", text: c }))))))));
}

function csvLink(tableName) {
  const q = bankQuery();
  q.set("table", tableName);
  return h("a", { class: "button secondary small", href: `/api/brands/${S.brand.id}/insights.csv?${q}`, download: "", i18n: "bank.csv" });
}

function renderBankPickers() {
  for (const [sel, all] of [[$("#b-show"), true], [$("#t-show"), false]]) {
    const keep = sel.value;
    clear(sel);
    if (all) sel.append(h("option", { value: "", i18n: "ord.allshows" }));
    const list = [...S.shows].filter((s) => all ? s.state !== "cancelled" : s.state === "scheduled" && s.visibility === "public")
      .sort((a, b) => Date.parse(b.starts_at) - Date.parse(a.starts_at));
    for (const s of list) sel.append(h("option", { value: s.id, text: `${s.title} · ${dateTime(s.starts_at)}` }));
    if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }
  $("#tell").hidden = $("#t-show").options.length === 0;
}

function renderBank() {
  renderBankPickers();
  const box = clear($("#b-body"));
  const b = S.bank;
  if (!b) return;
  const steps = b.funnel.map((st) => ({ label: t("bank.step." + st.step), value: st.people.count ?? null, text: people(st.people),
    note: st.conversion === null ? "" : t("bank.conv", { pct: pct(st.conversion) }) }));
  const grid = h("div", { class: "bank-grid" });
  box.append(grid);

  // The funnel, drawn as a funnel, with its table.
  const f = h("div", {});
  grid.append(h("section", { class: "panel", "aria-labelledby": "bank-funnel-h" },
    h("h3", { id: "bank-funnel-h", i18n: "bank.funnel" }), f,
    table(t("bank.funnel"), [t("bank.stepcol"), t("bank.people"), t("bank.convcol")],
      b.funnel.map((st) => [t("bank.step." + st.step), people(st.people), pct(st.conversion)]), (i) => i > 0),
    h("p", { class: "muted small-text", id: "bank-replay", text: t("bank.replay.line", { viewers: people(b.replay.viewers), views: number(b.replay.views),
      orders: number(b.replay.orders), gmv: (b.replay.gmv || []).map((m) => money(m.minor, m.currency)).join(" + ") || "–" }) }),
    h("p", { class: "muted small-text", i18n: "bank.replay" }), csvLink("funnel")));
  funnelChart(f, steps, { label: t("bank.funnel.alt", { list: steps.map((s) => `${s.label} ${s.text}`).join(", ") }) });

  // Why not bought: lost intents by cause.
  const lostBox = h("div", {});
  const causeRows = b.causes.map((c) => ({ label: t("bank.cause." + c), value: b.lost_totals[c] || 0 }));
  grid.append(h("section", { class: "panel", "aria-labelledby": "bank-lost-h" },
    h("h3", { id: "bank-lost-h", i18n: "bank.lost" }), lostBox,
    table(t("bank.lost"), [t("bank.cause"), t("bank.count")], causeRows.map((r) => [r.label, number(r.value)]), (i) => i > 0)));
  barChart(lostBox, causeRows, { label: t("bank.lost"), unit: t("bank.unit.intents"), format: (v) => number(v), empty: t("bank.none") });

  // Lost intents per offer.
  box.append(h("section", { class: "panel", "aria-labelledby": "bank-offers-h" },
    h("h3", { id: "bank-offers-h", i18n: "bank.byoffer" }),
    b.lost.length === 0 ? h("p", { class: "muted", i18n: "bank.none" }) :
      table(t("bank.byoffer"), [t("bank.offer"), t("bank.show"), ...b.causes.map((c) => t("bank.cause." + c)), t("bank.total")],
        b.lost.map((l) => [l.offer || l.offer_id.slice(0, 8), (b.shows.find((s) => s.id === l.show_id) || {}).title || "",
          ...b.causes.map((c) => number(l.causes[c] || 0)), number(l.total)]), (i) => i > 1),
    csvLink("lost")));

  // Per show.
  box.append(h("section", { class: "panel", "aria-labelledby": "bank-shows-h" },
    h("h3", { id: "bank-shows-h", i18n: "bank.shows" }),
    b.shows.length === 0 ? h("p", { class: "muted", i18n: "an.noshows" }) :
      table(t("bank.shows"), [t("bank.show"), t("bank.when"), ...b.funnel.map((st) => t("bank.step." + st.step)), t("bank.lostcol"),
        t("an.replay.viewers"), t("an.replay.orders")],
        b.shows.map((s) => [s.title, dateTime(s.starts_at), ...s.funnel.map((st) => people(st.people)),
          number(Object.values(s.lost || {}).reduce((a, n) => a + n, 0)), people(s.replay.viewers), number(s.replay.orders)]), (i) => i > 1),
    csvLink("shows")));

  // Audiences.
  const a = b.audiences;
  const kpi = (k, v) => h("div", {}, h("dt", { i18n: k }), h("dd", { text: people(v) }));
  const trendBox = h("div", { class: "bank-wide" });
  const day = (ms) => dayMonth(new Date(ms));
  const keys = [["followers", "bank.aud.followers"], ["members", "bank.aud.members"], ["repeat_buyers", "bank.aud.repeat"], ["tapped_not_bought", "bank.aud.tapped"]];
  box.append(h("section", { class: "panel", "aria-labelledby": "bank-aud-h" },
    h("h3", { id: "bank-aud-h", i18n: "bank.audiences" }),
    h("dl", { class: "stats-grid" }, ...keys.map(([k, label]) => kpi(label, a[k]))),
    h("h4", { text: t(b.bucket === "week" ? "bank.trend.week" : "bank.trend.day") }), trendBox,
    h("details", {}, h("summary", { i18n: "bank.trend.table" }),
      table(t("bank.audiences"), [t("bank.when"), ...keys.map(([, label]) => t(label))],
        a.trend.map((p) => [dayMonth(new Date(p.at)), ...keys.map(([k]) => people(p[k]))]), (i) => i > 0)),
    csvLink("audiences")));
  timeChart(trendBox, keys.map(([k, label]) => ({ label: t(label), points: a.trend.map((p) => [Date.parse(p.at), p[k].count ?? null]) })),
    { label: t("bank.audiences"), unit: t("bank.unit.people"), format: (v) => number(v), timeLabel: day, empty: t("bank.none") });
}

async function tellFollowers(ev) {
  ev.preventDefault();
  $("#t-error").textContent = "";
  $("#t-ok").textContent = "";
  const id = $("#t-show").value;
  if (!id) return;
  try {
    const r = await post(`/api/shows/${id}/notify-followers`, {});
    $("#t-ok").textContent = t("bank.tell.done", { n: number(r.told) });
  } catch (e) {
    $("#t-error").textContent = e.text();
  }
}

// ---- orders

async function loadOrders() {
  if (!S.brand) return;
  const q = new URLSearchParams({ limit: "200" });
  if ($("#o-show").value) q.set("show", $("#o-show").value);
  if ($("#o-state").value) q.set("state", $("#o-state").value);
  $("#o-csv").href = `/api/brands/${S.brand.id}/orders.csv?${q.toString().replace(/(^|&)limit=200/, "")}`;
  try {
    S.orders = (await get(`/api/brands/${S.brand.id}/orders?${q}`)).orders;
  } catch (e) { S.orders = []; toast(e.text()); }
  renderOrders();
}

function renderOrders() {
  const tb = clear($("#ord-rows"));
  for (const o of S.orders) {
    const info = S.bySKU.get(o.sku_id);
    tb.append(h("tr", {},
      h("td", { text: dateTime(o.created_at) }),
      h("td", { text: info ? `${info.product.name} · ${skuLabel(info.sku)}` : o.sku_id.slice(0, 8) }),
      h("td", { text: number(o.quantity) }),
      h("td", { text: money(o.total_minor, o.currency) }),
      h("td", { class: "state-" + o.state, text: t("order.state." + o.state) }),
      h("td", { text: [o.shipping?.name, o.shipping?.city, o.shipping?.country].filter(Boolean).join(", ") }),
      h("td", {}, o.state === "paid" ? h("button", { type: "button", class: "secondary small", i18n: "ord.fulfil",
        onclick: async () => { try { await post(`/api/orders/${o.id}/fulfil`); loadOrders(); } catch (e) { toast(e.text()); } } }) : null)));
  }
  if (S.orders.length === 0) tb.append(h("tr", {}, h("td", { colspan: 7, class: "muted", i18n: "common.none" })));
}
