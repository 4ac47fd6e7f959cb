// WHEP playback and WHIP publishing from the browser. Publishing sends its
// offer once ICE gathering finished, holding every candidate. Watching is
// in a hurry: the offer leaves as soon as it is made, with whatever
// candidates it holds (often none yet), and every later one follows by
// trickle ICE (RFC 8840 fragments PATCHed to the session, RFC 9725 §4.3).
// The browser, as the offerer, checks the server's candidates from the
// answer on its own, and the server learns the browser's address from those
// checks (a peer-reflexive candidate), so waiting for the browser's own
// candidates held the offer up for nothing: tens of ms on a busy machine.

function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

// trickler sends the candidates gathered after the offer to the session's
// location, in order, each as an SDP fragment; a failed PATCH is dropped
// (the candidates already sent may well do).
function trickler(pc, offerSDP) {
  const sent = new Set(offerSDP.split(/\r?\n/).filter((l) => l.startsWith("a=candidate:")));
  const ufrag = /a=ice-ufrag:(\S+)/.exec(offerSDP)?.[1];
  const pwd = /a=ice-pwd:(\S+)/.exec(offerSDP)?.[1];
  const mid = /a=mid:(\S+)/.exec(offerSDP)?.[1] ?? "0";
  const queue = [];
  let url = null, chain = Promise.resolve();
  const flush = () => {
    if (!url || queue.length === 0) return;
    const lines = [];
    let end = false;
    for (const c of queue.splice(0)) {
      if (c === null) { end = true; continue; }
      const line = "a=" + c.candidate;
      if (!sent.has(line)) { sent.add(line); lines.push(line); }
    }
    if (lines.length === 0) return;
    // Every media section is bundled on the first one: its mid takes them all.
    const body = [`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`, "m=audio 9 UDP/TLS/RTP/SAVPF 0", `a=mid:${mid}`,
      ...lines, ...(end ? ["a=end-of-candidates"] : []), ""].join("\r\n");
    chain = chain.then(() => fetch(url, {
      method: "PATCH", credentials: "same-origin", headers: { "Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "*" }, body,
    })).catch(() => {});
  };
  const onCandidate = (ev) => {
    queue.push(ev.candidate && ev.candidate.candidate ? ev.candidate : null);
    flush();
  };
  pc.addEventListener("icecandidate", onCandidate);
  return {
    start(location) {
      url = location;
      // Candidates gathered before this listened (a session the player's
      // boot script began) are in the local description by now.
      const earlier = (pc.localDescription?.sdp ?? "").split(/\r?\n/).filter((l) => l.startsWith("a=candidate:"));
      queue.unshift(...earlier.map((l) => ({ candidate: l.slice(2) })));
      flush();
    },
    stop() { pc.removeEventListener("icecandidate", onCandidate); },
  };
}

export class HTTPError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// offer makes an offer and posts it: with trickle at once, else once ICE
// gathering ended. It answers the offer's SDP and the POST's response
// (a promise). steps gets the time (performance.now()) the offer was made
// (described) and left.
async function offer(pc, url, headers, trickle, steps) {
  await pc.setLocalDescription(await pc.createOffer());
  steps.described = performance.now();
  if (!trickle) await gathered(pc);
  const sdp = pc.localDescription.sdp;
  steps.offered = performance.now();
  const res = fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/sdp", ...headers },
    body: sdp,
  });
  return { sdp, res };
}

// answer applies the answer to a posted offer and answers the session's
// location; with trickle, the candidates the offer lacked follow by PATCH.
// steps gets the time the answer came and was applied.
async function answer(pc, { sdp, res }, trickle, steps) {
  const more = trickle ? trickler(pc, sdp) : null;
  try {
    const r = await res;
    const text = await r.text();
    steps.answered = performance.now();
    if (r.status !== 201) {
      throw new HTTPError(r.status, text.trim(), Number(r.headers.get("Retry-After")) || 0);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: text });
    steps.applied = performance.now();
    const loc = new URL(r.headers.get("Location"), location.href).pathname;
    more?.start(loc);
    return loc;
  } catch (e) {
    more?.stop();
    throw e;
  }
}

// adopt takes over a session the player page's boot script began and
// answered (boot.js: the answer is applied there as soon as it comes) and
// answers its location; the candidates the offer lacked follow by PATCH.
async function adopt(pc, begun, steps) {
  const more = trickler(pc, (await begun.offer).sdp);
  try {
    const a = await begun.answer;
    Object.assign(steps, begun.steps); // the answer's times
    if (a.status !== 201) throw new HTTPError(a.status, a.text.trim(), a.retryAfter);
    const loc = new URL(a.location, location.href).pathname;
    more.start(loc);
    return loc;
  } catch (e) {
    more.stop();
    throw e;
  }
}

// negotiate posts the offer and applies the answer.
async function negotiate(pc, url, headers, trickle = false, steps = {}) {
  return answer(pc, await offer(pc, url, headers, trickle, steps), trickle, steps);
}

// watch starts a WHEP session: the stream goes to onStream. It returns the
// session ({pc, location}); throws HTTPError (404: not live, 503: starting).
// steps, if given, gets when each step of the set-up happened, in ms since
// the page began to load: created (the connection), described (the offer
// made), offered, answered, applied, ice (connectivity checks passed) and
// connected (DTLS done). begun, if given, is the session the player page's
// boot script began ({pc, steps, offer, answer, stream}: promises of the
// offer posted and of the answer applied, and the stream of the
// connection's receivers); watch takes it over from there.
export async function watch(showID, onStream, steps = {}, begun = null) {
  // One transport for both tracks (the server bundles them anyway): half
  // the candidates to gather and check. Gathering starts now, with the
  // connection, so the offer has its host candidates when it is made.
  // boot.js makes the same connection the same way.
  let pc = begun?.pc;
  if (pc) {
    Object.assign(steps, begun.steps);
  } else {
    pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceCandidatePoolSize: 1 });
    steps.created = performance.now();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  pc.addEventListener("iceconnectionstatechange", () => {
    if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") steps.ice ??= performance.now();
  });
  pc.addEventListener("connectionstatechange", () => { if (pc.connectionState === "connected") steps.connected ??= performance.now(); });
  const stream = begun?.stream ?? new MediaStream();
  pc.ontrack = (ev) => {
    if (!stream.getTracks().includes(ev.track)) stream.addTrack(ev.track);
    onStream(stream);
  };
  try {
    if (begun) {
      const loc = await adopt(pc, begun, steps);
      onStream(stream); // its tracks are the receivers': no track event after the answer boot.js applied
      return { pc, location: loc };
    }
    const loc = await answer(pc, await offer(pc, `/whep/${showID}`, {}, true, steps), true, steps);
    return { pc, location: loc };
  } catch (e) {
    pc.close();
    throw e;
  }
}

// publish starts a WHIP session from a local stream with the show's key,
// or, without one, as the signed-in host (the session cookie).
export async function publish(showID, key, stream) {
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  try {
    const loc = await negotiate(pc, `/whip/${showID}`, key ? { Authorization: `Bearer ${key}` } : {});
    return { pc, location: loc };
  } catch (e) {
    pc.close();
    throw e;
  }
}

// hangUp ends a session on the server and closes the connection.
export async function hangUp(session) {
  if (!session) return;
  session.pc.close();
  await fetch(session.location, { method: "DELETE", credentials: "same-origin" }).catch(() => {});
}

// framesDecoded reads the inbound video's decoded frame count from getStats.
export async function framesDecoded(pc) {
  let n = 0;
  const stats = await pc.getStats();
  stats.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
  return n;
}
