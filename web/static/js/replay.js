// The replay of an ended show: its recording, the product timeline (pins and
// drops at their offsets), and the chat played back in step with the video.
// Pure helpers here; player.js draws them.

import { get } from "./api.js";

// loadReplay reads the show's replay; null when it has none (404).
export async function loadReplay(showID) {
  try {
    return await get(`/api/shows/${showID}/replay`);
  } catch (e) {
    if (e.status === 404 || e.status === 501) return null;
    throw e;
  }
}

// loadChat reads the show's archived chat, oldest first, each line with
// its offset in the replay (ms), at most max lines (newest kept).
export async function loadChat(showID, startedAt, max = 2000) {
  const lines = [];
  let before = "";
  const t0 = Date.parse(startedAt);
  while (lines.length < max) {
    const q = new URLSearchParams({ limit: "100" });
    if (before) q.set("before", before);
    const page = await get(`/api/shows/${showID}/chat?${q}`);
    lines.push(...page.lines);
    if (!page.next_cursor || page.lines.length === 0) break;
    before = page.next_cursor;
  }
  return lines.reverse().map((l) => ({ ...l, at_ms: Date.parse(l.at) - t0 }));
}

// pinnedAt is the offer pinned at offset ms of the replay, or null.
export function pinnedAt(timeline, ms) {
  let pinned = null;
  for (const m of timeline) {
    if (m.at_ms > ms) break;
    if (m.type === "pin") pinned = m.offer_id;
    else if (m.type === "unpin") pinned = null;
  }
  return pinned;
}

// linesUntil is the chat lines sent up to offset ms.
export function linesUntil(lines, ms) {
  let n = 0;
  while (n < lines.length && lines[n].at_ms <= ms) n++;
  return lines.slice(0, n);
}

// stamp writes an offset as m:ss (or h:mm:ss).
export function stamp(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}
