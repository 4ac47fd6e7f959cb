// Follow a brand: a toggle button that says whether the viewer follows the
// brand and how many do. Every button for the same brand on a page moves
// together; a signed-out tap asks to log in first.
import { t, number } from "./i18n.js";
import { h } from "./dom.js";
import { get, api } from "./api.js";
import { requireLogin, toast } from "./shell.js";

const states = new Map(); // brand id -> {following, followers}
const buttons = new Set();

// followButton makes the button for brand (an object with id and name);
// opts.count adds the followers count to its text.
export function followButton(brand, { cls = "secondary small", count = false, id = null } = {}) {
  const btn = h("button", { type: "button", class: "follow " + cls, id, "data-follow": brand.id, "aria-pressed": "false" });
  btn.brand = brand;
  btn.count = count;
  btn.addEventListener("click", () => toggle(brand));
  buttons.add(btn);
  draw(btn);
  if (!states.has(brand.id)) refreshFollow(brand.id);
  return btn;
}

// refreshFollow reads the brand's follow state again (after log-in or out).
export async function refreshFollow(brandID) {
  try {
    states.set(brandID, (await get(`/api/brands/${brandID}/follow`)).follow);
  } catch { /* a server without follows: the button stays as it is */ }
  drawAll(brandID);
}

export const followState = (brandID) => states.get(brandID) || null;

async function toggle(brand) {
  if (!(await requireLogin())) return;
  const st = states.get(brand.id);
  try {
    const r = await api(st?.following ? "DELETE" : "PUT", `/api/brands/${brand.id}/follow`);
    states.set(brand.id, r.follow);
    toast(t(r.follow.following ? "follow.on" : "follow.off", { name: brand.name }));
  } catch (e) {
    toast(e.text ? e.text() : String(e));
  }
  drawAll(brand.id);
}

// drawAll redraws the brand's buttons and tells the page ("pavilion:follow",
// detail: the brand id) so that counts shown elsewhere follow.
function drawAll(brandID) {
  for (const b of buttons) {
    if (!b.isConnected) buttons.delete(b);
    else if (b.brand.id === brandID) draw(b);
  }
  document.dispatchEvent(new CustomEvent("pavilion:follow", { detail: brandID }));
}

function draw(btn) {
  const st = states.get(btn.brand.id);
  const on = !!st?.following;
  btn.setAttribute("aria-pressed", on ? "true" : "false");
  btn.textContent = t(on ? "follow.following" : "follow.follow");
  if (btn.count && st) btn.append(h("span", { class: "followers", text: " · " + t("follow.count", { n: number(st.followers) }) }));
  btn.setAttribute("aria-label", t(on ? "follow.following.of" : "follow.of", { name: btn.brand.name }) +
    (btn.count && st ? ", " + t("follow.count", { n: number(st.followers) }) : ""));
}

// redrawFollows redraws every button (a language change).
export function redrawFollows() {
  for (const b of buttons) if (b.isConnected) draw(b);
}
