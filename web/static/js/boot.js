// The player's first step, and the page's first script: the server writes
// it into player.html's head (pages.go, data-inline; allowed by its CSP
// hash), so it runs as the head is parsed, before any module is fetched,
// compiled or run. It makes the WHEP connection, posts the offer, applies
// the answer as soon as it comes and gives the video element the stream as
// soon as the element is parsed, as rtc.js watch would; it leaves the rest
// (trickle ICE, the session's life) to connect.js, which takes the session
// over from window.pavilionBoot. Everything on the way to the first frame
// is here, so none of it waits for the page's modules to be compiled and
// run: on a busy machine that was 50–100 ms between the answer's arrival
// and its use. A classic script, not a module: a module would wait for its
// turn behind the page's other modules. Nothing here may throw past the
// page: on any failure connect.js starts its own session.
(() => {
  if (document.querySelector('meta[name="pavilion-video"]')?.content === "off") return; // pages.go videoHint
  if (typeof RTCPeerConnection !== "function") return;
  const steps = { begun: performance.now() };
  try {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceCandidatePoolSize: 1 });
    steps.created = performance.now();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    // ICE and DTLS may be up before connect.js listens.
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") steps.ice ??= performance.now();
    });
    pc.addEventListener("connectionstatechange", () => { if (pc.connectionState === "connected") steps.connected ??= performance.now(); });
    // The receivers' tracks exist from now on (muted until media flows):
    // the video element can hold the stream before the answer, so its
    // player is set up while the network works, not after.
    const stream = new MediaStream(pc.getReceivers().map((r) => r.track));
    const offer = pc.createOffer().then((o) => pc.setLocalDescription(o)).then(() => {
      steps.described = performance.now();
      const sdp = pc.localDescription.sdp;
      steps.offered = performance.now();
      const res = fetch("/whep/" + location.pathname.split("/")[2], {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/sdp" }, body: sdp,
      });
      res.catch(() => {}); // the answer below reads it
      return { sdp, res };
    });
    // answer: the server's reply ({status, text, location, retryAfter}),
    // applied to the connection when it is one (201). connect.js reads it.
    const answer = offer.then(async ({ res }) => {
      const r = await res;
      const text = await r.text();
      steps.answered = performance.now();
      const reply = { status: r.status, text, location: r.headers.get("Location"), retryAfter: Number(r.headers.get("Retry-After")) || 0 };
      if (r.status === 201) {
        await pc.setRemoteDescription({ type: "answer", sdp: text });
        steps.applied = performance.now();
      }
      return reply;
    });
    answer.catch(() => {}); // connect.js handles it; not an unhandled rejection meanwhile
    // The video gets the stream once the offer has left (setting the
    // element's player up is work on this thread that the offer must not
    // wait for) and the element is parsed: the document is interactive
    // before the page's modules run (they are deferred, and
    // DOMContentLoaded waits for them).
    const show = () => {
      const video = document.getElementById("video");
      if (!video || video.srcObject) return;
      video.srcObject = stream;
      steps.attached = performance.now();
      video.requestVideoFrameCallback?.((_, m) => { steps.frame ??= performance.now(); steps.presented ??= m.presentationTime; });
    };
    offer.then(() => {
      if (document.readyState === "loading") document.addEventListener("readystatechange", show, { once: true });
      else show();
    }, () => {});
    window.pavilionBoot = { pc, steps, offer, answer, stream };
  } catch {
    // connect.js starts a session of its own
  }
})();
