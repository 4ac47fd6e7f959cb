// A brand's public page, /brands/{id or slug}: its name, logo and story, the
// follow button with the followers count, and its live, upcoming and past
// shows.
import { t, number, showWhen, onChange } from "./i18n.js";
import { h, $, clear } from "./dom.js";
import { get, ApiError } from "./api.js";
import { start, onUser } from "./shell.js";
import { picture } from "./media.js";
import { followButton, followState, refreshFollow, redrawFollows } from "./follow.js";

const key = decodeURIComponent(location.pathname.split("/")[2] || "");
let hub = null;

main();

async function main() {
  await start();
  try {
    hub = (await get(`/api/brands/${encodeURIComponent(key)}/hub`)).hub;
  } catch (e) {
    clear($("#main")).append(h("section", { class: "panel" }, h("h1", { i18n: "brandpage.missing" }),
      h("p", { text: e instanceof ApiError && e.status === 404 ? t("brandpage.missing.body") : (e.text ? e.text() : String(e)) })));
    return;
  }
  $("#bp-follow-slot").append(followButton(hub.brand, { cls: "primary", id: "bp-follow" }));
  // The count under the name follows the button's state.
  document.addEventListener("pavilion:follow", renderCount);
  onUser(() => refreshFollow(hub.brand.id));
  onChange(() => { render(); redrawFollows(); });
  render();
}

function renderCount() {
  const st = followState(hub.brand.id);
  $("#bp-followers").textContent = st ? t("follow.count", { n: number(st.followers) }) : "";
}

function showCard(s) {
  return h("li", {},
    h("div", { class: "show-card" + (s.cover_url ? " with-cover" : "") },
      s.cover_url ? picture(s.cover_url, { sizes: "(min-width: 56rem) 320px, 100vw", cls: "show-cover", width: 320, height: 180 }) : null,
      s.state === "live" ? h("p", {}, h("span", { class: "tag live", i18n: "player.live" })) : null,
      h("h3", {}, h("a", { href: `/shows/${s.id}`, text: s.title })),
      h("p", { class: "small-text", text: showWhen(s) })));
}

function render() {
  const b = hub.brand;
  document.title = `${b.name} · ${t("app.name")}`;
  $("#bp-name").textContent = b.name;
  const logo = clear($("#bp-logo"));
  if (b.logo_url) logo.append(picture(b.logo_url, { sizes: "72px", width: 72, height: 72, eager: true }));
  else logo.textContent = b.name.charAt(0).toUpperCase();
  $("#bp-story").textContent = b.story || "";
  const links = clear($("#bp-links"));
  if (b.website) links.append(h("a", { href: b.website, rel: "noopener", text: t("brandpage.website") }));
  if (b.flagship) links.append(links.childNodes.length ? " · " : "", h("span", { text: b.flagship }));
  const fill = (el, list, emptyKey) => {
    clear(el).append(...list.map(showCard));
    if (list.length === 0) el.append(h("li", { class: "muted", i18n: emptyKey }));
  };
  fill($("#bp-live"), hub.live, "home.live.none");
  fill($("#bp-upcoming"), hub.upcoming, "home.upcoming.none");
  fill($("#bp-past"), hub.past, "brandpage.past.none");
  renderCount();
}
