// The player's first step, and the page's first script: the server writes
// it into player.html's head (pages.go, data-inline; allowed by its CSP
// hash), so it runs as the head is parsed, before any module is fetched,
// compiled or run. It makes the WHEP connection and posts the offer, as
// rtc.js watch does, and leaves the rest (the answer, trickle ICE, the
// stream) to connect.js, which takes the session over from
// window.pavilionBoot. A classic script, not a module: a module would wait
// for its turn behind the page's other modules. Nothing here may throw
// past the page: on any failure connect.js starts its own session.
(() => {
  if (document.querySelector('meta[name="pavilion-video"]')?.content === "off") return; // pages.go videoHint
  if (typeof RTCPeerConnection !== "function") return;
  const steps = { begun: performance.now() };
  try {
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceCandidatePoolSize: 1 });
    steps.created = performance.now();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const offer = pc.createOffer().then((o) => pc.setLocalDescription(o)).then(() => {
      steps.described = performance.now();
      const sdp = pc.localDescription.sdp;
      steps.offered = performance.now();
      const res = fetch("/whep/" + location.pathname.split("/")[2], {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/sdp" }, body: sdp,
      });
      res.catch(() => {}); // connect.js reads it; not an unhandled rejection meanwhile
      return { sdp, res };
    });
    offer.catch(() => {});
    window.pavilionBoot = { pc, steps, offer };
  } catch {
    // connect.js starts a session of its own
  }
})();
