// A small line chart in plain SVG: a few series over time, each scaled to
// its own maximum, with the axis labels from the caller.
import { h, clear } from "./dom.js";

const W = 600, H = 180, PAD = 28;

// lineChart draws series [{label, cls, points: [[time ms, value]]}] into box.
export function lineChart(box, series, opts = {}) {
  const all = series.flatMap((s) => s.points);
  clear(box);
  const svg = h("svg", { svg: true, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.label || "" });
  if (all.length < 2) {
    box.append(h("p", { class: "muted small-text", text: opts.empty || "" }));
    return;
  }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const x = (t) => PAD + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * PAD);
  svg.append(h("line", { svg: true, x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, stroke: "#8c8577" }));
  const colors = ["#1a5fb4", "#b3261e", "#1b6e3a"];
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const max = Math.max(1, ...s.points.map((p) => p[1]));
    const y = (v) => H - PAD - (v / max) * (H - 2 * PAD);
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    svg.append(h("path", { svg: true, d, fill: "none", stroke: colors[i % colors.length], "stroke-width": 2.5 }));
    s.max = Math.max(...s.points.map((p) => p[1]));
  });
  if (opts.timeLabel) {
    svg.append(h("text", { svg: true, x: PAD, y: H - 8, text: opts.timeLabel(t0) }));
    svg.append(h("text", { svg: true, x: W - PAD, y: H - 8, "text-anchor": "end", text: opts.timeLabel(t1) }));
  }
  const legend = h("p", { class: "legend" }, ...series.map((s, i) =>
    h("span", {}, h("span", { class: "sw sw-" + "abc"[i % 3], "aria-hidden": "true" }),
      opts.maxLabel && s.max !== undefined ? opts.maxLabel(s.label, s.max) : s.label)));
  box.append(svg, legend);
}
