// The player's first WHEP session. boot.js, which the server writes into
// player.html's head, has usually made the offer, posted it and applied the
// answer before any module ran; this module (async, importing nothing but
// rtc.js, so it runs as soon as these two small files are in) takes that
// session over: trickle ICE, the stream. Without boot.js's session it
// begins one itself. Meanwhile the rest of the player's scripts, its
// strings and the show are still on their way: the connection set-up, most
// of the time to the first frame, overlaps the page's loading instead of
// following it. player.js takes the session over in its turn.
import { watch, HTTPError } from "./rtc.js";

// boot.js, written into the page, has usually begun the session already:
// this takes it over (once; the player's later sessions are its own).
const boot = window.pavilionBoot;
delete window.pavilionBoot;

// steps: when this module began (module), the first session's set-up
// (begun: when boot.js or else this module began it; the rest boot.js or
// rtc.js watch records), when the video element got the stream (attached)
// and frame, when the first video frame was shown; in ms since the page
// began to load. boot.js's own record when it began the session, so that
// what it records later (the first frame) lands here too.
export const steps = boot?.steps ?? {};
steps.module = performance.now();
steps.begun ??= steps.module;

// attach gives the video element a session's stream, as soon as the
// document has the element (the answer can come before the page is parsed;
// the element is there once the document is interactive, before the
// page's deferred modules run and DOMContentLoaded).
export function attach(stream) {
  const put = () => {
    const video = document.getElementById("video");
    if (!video || video.srcObject === stream) return;
    video.srcObject = stream;
    steps.attached ??= performance.now();
    if (steps.frame === undefined) {
      video.requestVideoFrameCallback?.((_, m) => { steps.frame ??= performance.now(); steps.presented ??= m.presentationTime; });
    }
  };
  if (document.readyState === "loading" && !document.getElementById("video")) {
    document.addEventListener("readystatechange", put, { once: true });
  } else put();
}

// first is the first session ({pc, location}) or its failure (rtc.js watch).
// When the server said, in the page, that the show has nothing on air
// (pages.go videoHint), it is the 404 the offer would have got, without the
// offer: no error in the console, no connection set up for nothing.
const offAir = document.querySelector('meta[name="pavilion-video"]')?.content === "off";
export const first = offAir ? Promise.reject(new HTTPError(404, "not on air")) : watch(location.pathname.split("/")[2], attach, steps, boot);
first.catch(() => {}); // player.js handles it; not an unhandled rejection meanwhile

// setUp resolves once the first session has its answer (or failed), or
// after ms at most. The page holds its own work (strings, account, show,
// drawing) until then: the steps of the set-up that run on the page's
// thread (the offer, the answer) would otherwise wait behind it. steps
// gets when the page was let go (released).
export function setUp(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    first.finally(() => { clearTimeout(timer); resolve(); }).catch(() => {});
  }).then(() => { steps.released ??= performance.now(); });
}
