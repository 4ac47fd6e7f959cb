// The home page: today's Pavilion Day on top, live now, upcoming, notices
// for signed-in viewers. Members-only shows are listed by the server only
// for members and staff.
import { dateRange, onChange } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, hasRole } from "./api.js";
import { start, onUser, openLogin, currentUser } from "./shell.js";
import { picture } from "./media.js";

const S = { live: [], upcoming: [], brands: new Map(), notices: null };

main();

async function main() {
  await start();
  $("#cta-signup").addEventListener("click", () => openLogin("signup"));
  $("#cta-login").addEventListener("click", () => openLogin("login"));
  onChange(render);
  onUser(() => load());
  await load();
}

async function load() {
  const [live, upcoming, brands] = await Promise.all([
    get("/api/shows?state=live&limit=100").then((r) => r.shows).catch(() => []),
    get("/api/shows?state=upcoming&limit=100").then((r) => r.shows)
      .catch(() => get("/api/shows?state=scheduled&limit=100").then((r) => r.shows)).catch(() => []),
    get("/api/brands").then((r) => r.brands).catch(() => []),
  ]);
  S.live = live;
  const now = Date.now();
  S.upcoming = upcoming.filter((s) => Date.parse(s.ends_at) > now);
  S.brands = new Map(brands.map((b) => [b.id, b]));
  S.notices = null;
  if (currentUser()) {
    S.notices = await get("/api/me/notices").then((r) => r.notices || []).catch(() => null);
  }
  render();
  // The feed link only when this server has the feed.
  fetch("/api/calendar.ics", { method: "HEAD" }).then((r) => { $("#ics-link").hidden = !r.ok; }).catch(() => {});
}

// today's Pavilion Day: one whose time covers now, else the first starting today.
function pavilionDay() {
  const all = [...S.live, ...S.upcoming].filter((s) => s.kind === "pavilion_day");
  const now = Date.now();
  const today = new Date().toDateString();
  return all.find((s) => Date.parse(s.starts_at) <= now && now < Date.parse(s.ends_at))
    || all.find((s) => new Date(s.starts_at).toDateString() === today);
}

function showCard(s) {
  const b = S.brands.get(s.brand_id);
  const u = currentUser();
  const staff = u && (hasRole(u, "admin") || (u.brand_ids || []).includes(s.brand_id) || (s.host_ids || []).includes(u.id));
  return h("li", {},
    h("div", { class: "show-card" + (s.cover_url ? " with-cover" : "") },
      s.cover_url ? picture(s.cover_url, { sizes: "(min-width: 56rem) 320px, 100vw", cls: "show-cover", width: 320, height: 180 }) : null,
      h("p", {},
        s.state === "live" ? h("span", { class: "tag live", i18n: "player.live" }) : null, " ",
        s.kind === "pavilion_day" ? h("span", { class: "tag", i18n: "home.tag.pday" }) : null, " ",
        s.visibility === "members" ? h("span", { class: "tag members", i18n: "home.tag.members" }) : null),
      h("h3", {}, h("a", { href: `/shows/${s.id}`, text: s.title })),
      b ? h("p", {}, h("a", { class: "muted", href: `/brands/${b.slug}`, text: b.name })) : null,
      h("p", { class: "small-text", text: dateRange(s.starts_at, s.ends_at) }),
      staff ? h("a", { href: `/studio/${s.id}`, class: "small-text", i18n: "home.studio" }) : null));
}

function render() {
  const pd = pavilionDay();
  $("#pday").hidden = !pd;
  if (pd) {
    $("#pday-h").textContent = pd.title;
    $("#pday-brand").textContent = S.brands.get(pd.brand_id)?.name || "";
    $("#pday-when").textContent = dateRange(pd.starts_at, pd.ends_at);
    $("#pday-link").href = `/shows/${pd.id}`;
  }
  $("#welcome").hidden = !!currentUser();
  const fill = (el, list, emptyKey) => {
    clear(el);
    for (const s of list) el.append(showCard(s));
    if (list.length === 0) el.append(h("li", { class: "muted", i18n: emptyKey }));
  };
  fill($("#live"), S.live, "home.live.none");
  fill($("#upcoming"), S.upcoming, "home.upcoming.none");
  const ns = $("#notices");
  ns.hidden = !S.notices || S.notices.length === 0;
  const ul = clear($("#notice-list"));
  for (const n of S.notices || []) {
    ul.append(h("li", {}, h("a", { href: `/shows/${n.show_id}`, text: n.text })));
  }
}
