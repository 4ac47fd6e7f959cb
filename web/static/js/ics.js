// A one-event iCalendar file made in the browser, for "add to calendar".

const stamp = (iso) => new Date(iso).toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");

// esc escapes TEXT values (RFC 5545 3.3.11).
const esc = (s) => String(s).replace(/[\\;,]/g, (c) => "\\" + c).replace(/\r?\n/g, "\\n");

// fold splits lines longer than 75 octets.
function fold(line) {
  const out = [];
  let cur = "";
  for (const ch of line) {
    if (new TextEncoder().encode(cur + ch).length > 75) { out.push(cur); cur = " " + ch; } else cur += ch;
  }
  out.push(cur);
  return out.join("\r\n");
}

export function icsFor(shows, origin) {
  const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Pavilion//Live shows//EN", "CALSCALE:GREGORIAN"];
  for (const s of shows) {
    lines.push("BEGIN:VEVENT", `UID:${s.id}@pavilion`, `DTSTAMP:${stamp(new Date().toISOString())}`,
      `DTSTART:${stamp(s.starts_at)}`, `DTEND:${stamp(s.ends_at)}`, `SUMMARY:${esc(s.title)}`,
      `DESCRIPTION:${esc(s.description || "")}`, `URL:${origin}/shows/${s.id}`, "END:VEVENT");
  }
  lines.push("END:VCALENDAR");
  return lines.map(fold).join("\r\n") + "\r\n";
}

export function download(text, name, type = "text/calendar") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
