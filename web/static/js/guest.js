// The guest's studio, /studio/{id}/guest#invite=pvi_…: a co-host the show's
// host invited joins with their camera and microphone, without an account.
// The invite (in the URL's fragment, which never reaches a server or a log)
// is traded once for a guest key, kept in this tab's session storage, and
// the key publishes the show's guest feed (WHIP ?guest=1). When the host
// removes the guest, the session ends and the key stops working.
import { t } from "./i18n.js";
import { $ } from "./dom.js";
import { get, post } from "./api.js";
import { start, toast } from "./shell.js";
import { publish, hangUp } from "./rtc.js";

const showID = location.pathname.split("/")[2];
const store = `pavilion-guest-${showID}`;
let guest = null;   // {key, name}
let local = null;   // the camera and microphone stream
let session = null; // the WHIP session

main().catch((e) => gate(e.text ? e.text() : String(e)));

async function main() {
  await start();
  get(`/api/shows/${showID}`).then((r) => {
    $("#show-title").textContent = r.show.title;
    document.title = `${t("guest.title")} · ${r.show.title}`;
  }).catch(() => {});
  const invite = new URLSearchParams(location.hash.slice(1)).get("invite");
  if (invite) {
    // The invite works once: forget it from the address bar and history.
    history.replaceState(null, "", location.pathname);
    try {
      const r = await post(`/api/shows/${showID}/guests/redeem`, { invite });
      guest = { key: r.guest_key, name: r.guest.name };
      sessionStorage.setItem(store, JSON.stringify(guest));
    } catch (e) {
      if (!load()) { gate(e.text()); return; }
    }
  } else if (!load()) {
    gate(t("guest.noinvite"));
    return;
  }
  $("#guest-name").textContent = guest.name;
  $("#guest").hidden = false;
  $("#start-cam").addEventListener("click", () => startCamera().catch((e) => toast(String(e))));
  $("#go-live").addEventListener("click", goLive);
  $("#leave").addEventListener("click", leave);
  setLive("off");
}

function load() {
  try { guest = JSON.parse(sessionStorage.getItem(store) || "null"); } catch { guest = null; }
  return !!guest?.key;
}

function gate(text) {
  $("#gate").hidden = false;
  $("#gate-text").textContent = text;
  $("#guest").hidden = true;
}

async function startCamera() {
  local?.getTracks().forEach((tr) => tr.stop());
  local = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: true });
  $("#preview").srcObject = local;
}

async function goLive() {
  try {
    if (!local) await startCamera();
    setLive("connecting");
    // The guest feed is the show's WHIP URL with ?guest=1 (rtc.js puts the id in the path).
    session = await publish(`${showID}?guest=1`, guest.key, local);
    const s = session;
    s.pc.addEventListener("connectionstatechange", () => {
      if (session === s && ["failed", "closed", "disconnected"].includes(s.pc.connectionState)) ended();
    });
    setLive("live");
  } catch (e) {
    session = null;
    setLive("off");
    if (e.status === 401) {
      sessionStorage.removeItem(store);
      gate(t("guest.removed"));
      return;
    }
    toast(e.message || String(e));
  }
}

// ended: the server closed the session (the host removed the guest, or the
// show ended). Joining again tells which: a removed key is refused.
function ended() {
  const s = session;
  session = null;
  s?.pc.close();
  setLive("off", t("guest.ended"));
}

async function leave() {
  const s = session;
  session = null;
  await hangUp(s);
  setLive("off");
}

function setLive(state, extra) {
  const el = $("#live-state");
  el.dataset.state = state;
  el.textContent = extra || t("guest.state." + state);
  $("#onair").hidden = state !== "live";
  $("#go-live").hidden = state !== "off";
  $("#leave").hidden = state === "off";
}
