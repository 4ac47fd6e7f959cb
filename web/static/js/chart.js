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

// ---- Charts with real scales, for the data bank: every axis starts at 0,
// has ticks at round numbers and says its unit, and every chart has its
// numbers in a table beside it (the chart is a picture of the table).

const COLORS = ["#1a5fb4", "#b3261e", "#1b6e3a", "#8a5a00"];

// widthOf is the drawing's width in user units: the box's own width in CSS
// pixels (so 11px text stays 11px on a phone), within bounds.
const widthOf = (box) => Math.max(320, Math.min(720, Math.round(box.clientWidth || 600)));

// niceTicks returns round tick values from 0 to at least max (about n of
// them); the charts count things, so a step is never below 1.
export function niceTicks(max, n = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw));
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

// funnelChart draws steps [{label, value (null: masked), text, note}] as a
// funnel: each band's width is its value on one scale (the first step's),
// centred, with its label and value beside the band.
export function funnelChart(box, steps, opts = {}) {
  clear(box);
  const w = widthOf(box), rowH = 34, gap = 6, labelW = Math.min(170, w * 0.4), h0 = steps.length * (rowH + gap);
  const top = Math.max(1, ...steps.map((s) => s.value || 0));
  const svg = h("svg", { svg: true, viewBox: `0 0 ${w} ${h0}`, class: "chart funnel-chart", role: "img", "aria-label": opts.label || "" });
  const inner = w - labelW - 10, cx = labelW + inner / 2;
  const width = (v) => (v === null || v === undefined ? inner * 0.04 : Math.max(2, (v / top) * inner));
  steps.forEach((s, i) => {
    const y = i * (rowH + gap), wa = width(s.value), wb = i + 1 < steps.length ? width(steps[i + 1].value) : wa * 0.8;
    const pts = [[cx - wa / 2, y], [cx + wa / 2, y], [cx + Math.max(wb, 2) / 2, y + rowH], [cx - Math.max(wb, 2) / 2, y + rowH]];
    svg.append(h("polygon", { svg: true, points: pts.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "),
      fill: COLORS[0], "fill-opacity": String(1 - i * 0.12), class: s.value === null ? "masked" : "" }));
    svg.append(h("text", { svg: true, x: 4, y: y + rowH / 2 - 2, class: "f-label", text: s.label }));
    svg.append(h("text", { svg: true, x: 4, y: y + rowH / 2 + 12, class: "f-value", text: s.note ? `${s.text} · ${s.note}` : s.text }));
  });
  box.append(svg);
}

// barChart draws horizontal bars rows [{label, value}] on one axis from 0,
// with ticks and the unit under it.
export function barChart(box, rows, opts = {}) {
  clear(box);
  if (rows.length === 0) {
    box.append(h("p", { class: "muted small-text", text: opts.empty || "" }));
    return;
  }
  const w = widthOf(box), rowH = 22, labelW = Math.min(170, w * 0.4), padR = 40, axisH = 34, h0 = rows.length * (rowH + 4) + axisH;
  const ticks = niceTicks(Math.max(...rows.map((r) => r.value)));
  const top = ticks[ticks.length - 1];
  const x = (v) => labelW + (v / top) * (w - labelW - padR);
  const svg = h("svg", { svg: true, viewBox: `0 0 ${w} ${h0}`, class: "chart", role: "img", "aria-label": opts.label || "" });
  const base = rows.length * (rowH + 4);
  for (const tv of ticks) {
    svg.append(h("line", { svg: true, x1: x(tv), y1: 0, x2: x(tv), y2: base, stroke: "#ddd8cc" }));
    svg.append(h("text", { svg: true, x: x(tv), y: base + 14, "text-anchor": "middle", text: opts.format ? opts.format(tv) : String(tv) }));
  }
  rows.forEach((r, i) => {
    const y = i * (rowH + 4);
    svg.append(h("text", { svg: true, x: labelW - 6, y: y + rowH * 0.7, "text-anchor": "end", text: r.label }));
    svg.append(h("rect", { svg: true, x: labelW, y, width: Math.max(0, x(r.value) - labelW).toFixed(1), height: rowH, fill: COLORS[1] }));
    svg.append(h("text", { svg: true, x: x(r.value) + 4, y: y + rowH * 0.7, text: opts.format ? opts.format(r.value) : String(r.value) }));
  });
  svg.append(h("line", { svg: true, x1: labelW, y1: base, x2: w - padR, y2: base, stroke: "#8c8577" }));
  if (opts.unit) svg.append(h("text", { svg: true, x: w - padR, y: base + 30, "text-anchor": "end", text: opts.unit }));
  box.append(svg);
}

// timeChart draws series [{label, points: [[time ms, value or null]]}] on
// one y axis from 0 (nulls are gaps: masked values), with y ticks, the
// unit, and dates under the x axis.
export function timeChart(box, series, opts = {}) {
  clear(box);
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    box.append(h("p", { class: "muted small-text", text: opts.empty || "" }));
    return;
  }
  const w = widthOf(box), h0 = 220, L = 48, R = 12, T = 16, B = 36;
  const ticks = niceTicks(Math.max(0, ...all.map((p) => p[1] ?? 0)));
  const top = ticks[ticks.length - 1];
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const x = (tm) => L + ((tm - t0) / Math.max(1, t1 - t0)) * (w - L - R);
  const y = (v) => h0 - B - (v / top) * (h0 - T - B);
  const svg = h("svg", { svg: true, viewBox: `0 0 ${w} ${h0}`, class: "chart", role: "img", "aria-label": opts.label || "" });
  for (const tv of ticks) {
    svg.append(h("line", { svg: true, x1: L, y1: y(tv), x2: w - R, y2: y(tv), stroke: "#ddd8cc" }));
    svg.append(h("text", { svg: true, x: L - 6, y: y(tv) + 4, "text-anchor": "end", text: opts.format ? opts.format(tv) : String(tv) }));
  }
  if (opts.unit) svg.append(h("text", { svg: true, x: 2, y: 10, text: opts.unit }));
  const stamps = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  const every = Math.max(1, Math.ceil(stamps.length / 6));
  const last = stamps.length - 1;
  stamps.forEach((tm, i) => {
    // Every few stamps and the last one, never two on top of each other.
    if (i !== last && (i % every || last - i < every)) return;
    const anchor = i === 0 ? "start" : i === last ? "end" : "middle"; // the ends stay inside the drawing
    svg.append(h("text", { svg: true, x: x(tm), y: h0 - B + 16, "text-anchor": anchor, text: opts.timeLabel ? opts.timeLabel(tm) : "" }));
  });
  svg.append(h("line", { svg: true, x1: L, y1: h0 - B, x2: w - R, y2: h0 - B, stroke: "#8c8577" }));
  series.forEach((s, i) => {
    let d = "", pen = false;
    for (const [tm, v] of s.points) {
      if (v === null || v === undefined) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${x(tm).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
      svg.append(h("circle", { svg: true, cx: x(tm).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: COLORS[i % COLORS.length] }));
    }
    if (d) svg.append(h("path", { svg: true, d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2 }));
  });
  const legend = h("p", { class: "legend" }, ...series.map((s, i) =>
    h("span", {}, h("span", { class: "sw sw-" + "abcd"[i % 4], "aria-hidden": "true" }), s.label)));
  box.append(svg, legend);
}
