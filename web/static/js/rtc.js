// WHEP playback and WHIP publishing from the browser. The server does not
// take trickled candidates (no PATCH yet), so the offer goes out only after
// ICE gathering finished, holding every candidate.

function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class HTTPError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function negotiate(pc, url, headers) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const res = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/sdp", ...headers },
    body: pc.localDescription.sdp,
  });
  const text = await res.text();
  if (res.status !== 201) {
    throw new HTTPError(res.status, text.trim(), Number(res.headers.get("Retry-After")) || 0);
  }
  await pc.setRemoteDescription({ type: "answer", sdp: text });
  return new URL(res.headers.get("Location"), location.href).pathname;
}

// watch starts a WHEP session: the stream goes to onStream. It returns the
// session ({pc, location}); throws HTTPError (404: not live, 503: starting).
export async function watch(showID, onStream) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (ev) => {
    stream.addTrack(ev.track);
    onStream(stream);
  };
  try {
    const loc = await negotiate(pc, `/whep/${showID}`, {});
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
