// Lists live and upcoming shows. Text goes in with textContent only: titles
// are user-written and must never be parsed as HTML.
async function list(state, el) {
  const res = await fetch(`/api/shows?state=${state}`, { credentials: "same-origin" });
  if (!res.ok) return;
  const { shows } = await res.json();
  const ul = document.getElementById(el);
  for (const s of shows) {
    const li = document.createElement("li");
    const when = new Date(s.starts_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    li.textContent = `${s.title} — ${when}`;
    ul.append(li);
  }
  if (shows.length === 0) {
    const li = document.createElement("li");
    li.textContent = "None";
    ul.append(li);
  }
}
list("live", "live");
list("scheduled", "upcoming");
