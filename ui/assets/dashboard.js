"use strict";
// Dashboard: the store's figures per bucket and group (GET
// /api/ui/dashboard), drawn as a trend line per group and a ranked bar
// chart of the groups over the whole range, each with the table behind it;
// the CSV is the server's.
const FIELDS = ["from", "to", "step", "group_by", "agent", "queue"];
// METRICS: the row field, its catalogue key, its unit's key, how to show a
// value, and whether the mean over buckets weighs by calls.
const pct = (v) => (v * 100).toFixed(1);
const METRICS = [
  { f: "calls", key: "dash.m_calls", unit: "dash.u_calls", fmt: (v) => String(Math.round(v)), sum: true },
  { f: "avg_handle_ms", key: "dash.m_aht", unit: "dash.u_minutes", fmt: (v) => (v / 60000).toFixed(1), scale: 1 / 60000 },
  { f: "customer_sentiment", key: "dash.m_sentiment", unit: "dash.u_score", fmt: (v) => v.toFixed(2) },
  { f: "customer_shift", key: "dash.m_shift", unit: "dash.u_score", fmt: (v) => v.toFixed(2) },
  { f: "non_talk_share", key: "dash.m_non_talk", unit: "dash.u_percent", fmt: pct, scale: 100 },
  { f: "agent_talk_share", key: "dash.m_agent_talk", unit: "dash.u_percent", fmt: pct, scale: 100 },
  { f: "interruptions_per_call", key: "dash.m_interruptions", unit: "dash.u_per_call", fmt: (v) => v.toFixed(2) },
  { f: "agent_interruptions_per_call", key: "dash.m_agent_interruptions", unit: "dash.u_per_call", fmt: (v) => v.toFixed(2) },
  { f: "agent_talk_speed_wpm", key: "dash.m_wpm", unit: "dash.u_wpm", fmt: (v) => v.toFixed(0) },
  // Survey figures weigh by their answers, not by calls.
  { f: "csat", key: "dash.m_csat", unit: "dash.u_percent_answers", fmt: pct, scale: 100, w: "csat_answers" },
  { f: "nps", key: "dash.m_nps", unit: "dash.u_nps", fmt: (v) => v.toFixed(0), w: "nps_answers" },
];
const COLORS = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#65a30d", "#db2777"];
const MAX_LINES = 8, MAX_BARS = 15;

let DATA = null;

function metric() { return METRICS.find((m) => m.f === $("metric").value) || METRICS[0]; }
function groupName(g) { return g === "" ? t("dash.all_calls") : g; }
function value(row, m) {
  if (m.f.startsWith("category:")) return (row.categories || {})[m.f.slice(9)] || 0;
  if (m.f.startsWith("alert:")) return (row.alerts || {})[m.f.slice(6)] || 0;
  const v = row[m.f];
  return v === null || v === undefined ? null : v;
}
function shown(v, m) { return v === null ? "—" : m.fmt(v); }
function label(m) { return m.name || t(m.key); }

// ticks are about n round values from at or below lo to at or above hi.
function ticks(lo, hi, n) {
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw);
  const out = [];
  const end = Math.ceil(hi / step) * step;
  for (let v = Math.floor(lo / step) * step; v <= end + step / 1e6; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

// swatch is a legend's colour key (an SVG square: the page's CSP allows no
// inline style).
function swatch(color) {
  const s = svg("svg", { class: "swatch", width: 12, height: 12, viewBox: "0 0 12 12" });
  s.append(svg("rect", { width: 12, height: 12, rx: 2, fill: color }));
  return s;
}

function text(x, y, s, attrs) { const el = svg("text", Object.assign({ x, y }, attrs || {})); el.textContent = s; return el; }

// axes draws a y axis with its ticks, grid lines and unit, and returns y().
function axes(s, W, H, pad, lo, hi, m) {
  const ys = ticks(lo, hi, 5), top = ys[ys.length - 1], bottom = ys[0];
  const y = (v) => pad.t + (top - v) / ((top - bottom) || 1) * (H - pad.t - pad.b);
  for (const v of ys) {
    s.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    s.append(text(pad.l - 6, y(v) + 4, m.fmt(v / (m.scale || 1)), { "text-anchor": "end", class: "tick" }));
  }
  s.append(svg("line", { x1: pad.l, x2: pad.l, y1: pad.t, y2: H - pad.b, class: "axis" }));
  s.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b, class: "axis" }));
  s.append(text(12, pad.t + (H - pad.t - pad.b) / 2, label(m) + " (" + t(m.unit) + ")",
    { transform: `rotate(-90 12 ${pad.t + (H - pad.t - pad.b) / 2})`, "text-anchor": "middle", class: "axis-label" }));
  return y;
}

const DAY_FMT = new Intl.DateTimeFormat(LANG, { month: "short", day: "numeric", timeZone: "UTC" });
function bucketLabel(iso) { return DAY_FMT.format(new Date(Date.parse(iso) + Number($("tz").value) * 60000)); }

function drawTrend(d, m) {
  const box = clear($("trend")), table = clear($("trend-table"));
  if (!d.rows.length) { box.append(h("p", { class: "notice" }, t("dash.none"))); return; }
  const buckets = [...new Set(d.rows.map((r) => r.bucket))].sort();
  const calls = {};
  for (const r of d.rows) calls[r.group] = (calls[r.group] || 0) + r.calls;
  const groups = Object.keys(calls).sort((a, b) => calls[b] - calls[a] || a.localeCompare(b)).slice(0, MAX_LINES);
  const W = 860, H = 300, pad = { l: 64, r: 16, t: 16, b: 40 };
  const vals = d.rows.filter((r) => groups.includes(r.group)).map((r) => value(r, m)).filter((v) => v !== null).map((v) => v * (m.scale || 1));
  if (!vals.length) { box.append(h("p", { class: "notice" }, t("dash.no_figure"))); return; }
  const lo = Math.min(0, ...vals), hi = Math.max(...vals, lo + 1e-9);
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("dash.trend") + ": " + label(m) });
  const y = axes(s, W, H, pad, lo, hi, m);
  const x = (i) => buckets.length === 1 ? (pad.l + W - pad.r) / 2 : pad.l + 10 + i * (W - pad.l - pad.r - 20) / (buckets.length - 1);
  const every = Math.ceil(buckets.length / 10);
  buckets.forEach((b, i) => { if (i % every === 0) s.append(text(x(i), H - pad.b + 16, bucketLabel(b), { "text-anchor": "middle", class: "tick" })); });
  s.append(text((pad.l + W - pad.r) / 2, H - 6, t($("step").value === "week" ? "dash.u_week" : "dash.u_day"), { "text-anchor": "middle", class: "axis-label" }));
  groups.forEach((g, k) => {
    const pts = [];
    buckets.forEach((b, i) => {
      const r = d.rows.find((r) => r.bucket === b && r.group === g);
      const v = r ? value(r, m) : null;
      if (v !== null) pts.push([x(i), y(v * (m.scale || 1))]);
    });
    const color = COLORS[k % COLORS.length];
    if (pts.length > 1) s.append(svg("polyline", { points: pts.map((p) => p.map((c) => c.toFixed(1)).join(",")).join(" "), stroke: color, class: "series" }));
    for (const p of pts) s.append(svg("circle", { cx: p[0], cy: p[1], r: 3, fill: color }));
  });
  box.append(s);
  box.append(h("ul", { class: "legend" }, groups.map((g, k) =>
    h("li", {}, swatch(COLORS[k % COLORS.length]), groupName(g)))));
  table.append(h("thead", {}, h("tr", {}, h("th", {}, t("dash.bucket")), h("th", {}, t("dash.group")), h("th", {}, t("dash.m_calls")),
    h("th", {}, label(m) + " (" + t(m.unit) + ")"))));
  table.append(h("tbody", {}, d.rows.map((r) => h("tr", {}, h("td", {}, bucketLabel(r.bucket)), h("td", {}, groupName(r.group)),
    h("td", { class: "num" }, r.calls), h("td", { class: "num" }, shown(value(r, m), m))))));
}

// ranked: each group's figure over the whole range, the buckets weighed
// by their calls (summed, for the number of calls), best first.
function drawRanked(d, m) {
  const box = clear($("ranked")), table = clear($("ranked-table"));
  const acc = {};
  for (const r of d.rows) {
    const v = value(r, m);
    const a = acc[r.group] || (acc[r.group] = { sum: 0, w: 0, calls: 0 });
    a.calls += r.calls;
    const w = m.w ? r[m.w] : r.calls;
    if (v !== null) { a.sum += m.sum ? v : v * w; a.w += m.sum ? 1 : w; }
  }
  const ranked = Object.entries(acc).filter(([, a]) => a.w > 0)
    .map(([g, a]) => ({ g, v: m.sum ? a.sum : a.sum / a.w, calls: a.calls }))
    .sort((a, b) => b.v - a.v || a.g.localeCompare(b.g));
  if (!ranked.length) { box.append(h("p", { class: "notice" }, t(d.rows.length ? "dash.no_figure" : "dash.none"))); return; }
  const top = ranked.slice(0, MAX_BARS), rowH = 22;
  const W = 860, pad = { l: 150, r: 70, t: 8, b: 34 }, H = pad.t + pad.b + top.length * rowH;
  const lo = Math.min(0, ...top.map((r) => r.v * (m.scale || 1))), hi = Math.max(...top.map((r) => r.v * (m.scale || 1)), lo + 1e-9);
  const xs = ticks(lo, hi, 6), right = xs[xs.length - 1], left = xs[0];
  const x = (v) => pad.l + (v - left) / ((right - left) || 1) * (W - pad.l - pad.r);
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("dash.ranked") + ": " + label(m) });
  for (const v of xs) {
    s.append(svg("line", { x1: x(v), x2: x(v), y1: pad.t, y2: H - pad.b, class: "grid" }));
    s.append(text(x(v), H - pad.b + 14, m.fmt(v / (m.scale || 1)), { "text-anchor": "middle", class: "tick" }));
  }
  s.append(text((pad.l + W - pad.r) / 2, H - 4, label(m) + " (" + t(m.unit) + ")", { "text-anchor": "middle", class: "axis-label" }));
  top.forEach((r, i) => {
    const yy = pad.t + i * rowH, v = r.v * (m.scale || 1);
    s.append(text(pad.l - 8, yy + rowH / 2 + 4, groupName(r.g), { "text-anchor": "end", class: "tick" }));
    s.append(svg("rect", { x: Math.min(x(0), x(v)), y: yy + 3, width: Math.max(1, Math.abs(x(v) - x(0))), height: rowH - 6, fill: COLORS[0], class: "bar" }));
    s.append(text(Math.max(x(0), x(v)) + 4, yy + rowH / 2 + 4, m.fmt(r.v), { class: "tick" }));
  });
  s.append(svg("line", { x1: x(0), x2: x(0), y1: pad.t, y2: H - pad.b, class: "axis" }));
  box.append(s);
  table.append(h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, t("dash.group")), h("th", {}, t("dash.m_calls")),
    h("th", {}, label(m) + " (" + t(m.unit) + ")"))));
  table.append(h("tbody", {}, ranked.map((r, i) => h("tr", {}, h("td", { class: "num" }, i + 1), h("td", {}, groupName(r.g)),
    h("td", { class: "num" }, r.calls), h("td", { class: "num" }, m.fmt(r.v))))));
}

function draw() {
  if (!DATA) return;
  const m = metric();
  drawTrend(DATA, m);
  drawRanked(DATA, m);
}

// metrics offers the figures, then each category's and alert's share.
function metrics(d) {
  const sel = $("metric"), keep = sel.value;
  clear(sel);
  const all = METRICS.concat(
    d.categories.map((c) => ({ f: "category:" + c, name: t("dash.m_category", { name: c }), unit: "dash.u_percent", fmt: pct, scale: 100 })),
    d.alerts.map((a) => ({ f: "alert:" + a, name: t("dash.m_alert", { name: a }), unit: "dash.u_percent", fmt: pct, scale: 100 })));
  METRICS.length = 0;
  METRICS.push(...all.filter((m, i) => all.findIndex((x) => x.f === m.f) === i));
  for (const m of METRICS) sel.append(h("option", { value: m.f }, label(m)));
  if (METRICS.some((m) => m.f === keep)) sel.value = keep;
}

async function run(qs) {
  $("error").textContent = "";
  qs.set("tz_offset_minutes", $("tz").value);
  $("csv").href = "/api/ui/dashboard?" + qs.toString() + "&format=csv";
  try {
    DATA = await api("/api/ui/dashboard?" + qs.toString());
  } catch (e) {
    $("error").textContent = errText(e);
    return;
  }
  metrics(DATA);
  draw();
}

start(async () => {
  if (!ME.store) { $("error").textContent = t("err.no_store_dashboard"); }
  // The buckets follow the browser's clock.
  document.body.append(h("input", { type: "hidden", id: "tz", value: String(-new Date().getTimezoneOffset()) }));
  const params = new URLSearchParams(location.search);
  for (const f of FIELDS) if (params.has(f)) $(f).value = params.get(f);
  if (!$("to").value) $("to").value = new Date().toISOString().slice(0, 10);
  if (!$("from").value) $("from").value = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
  if (ME.role === "agent") { $("agent").value = ME.agent; $("agent").disabled = true; }
  for (const m of METRICS) $("metric").append(h("option", { value: m.f }, label(m)));
  if (params.has("metric")) $("metric").value = params.get("metric");
  const query = () => {
    const qs = new URLSearchParams();
    for (const f of FIELDS) if ($(f).value && !$(f).disabled) qs.set(f, $(f).value);
    // to is a day: the range runs to its end.
    if (qs.has("to")) qs.set("to", new Date(Date.parse(qs.get("to")) + 86400000).toISOString().slice(0, 10));
    return qs;
  };
  $("dash").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const qs = new URLSearchParams();
    for (const f of FIELDS) if ($(f).value && !$(f).disabled) qs.set(f, $(f).value);
    qs.set("metric", $("metric").value);
    history.replaceState(null, "", "/dashboard?" + qs.toString());
    run(query());
  });
  $("metric").addEventListener("change", draw);
  if (ME.store) run(query());
});
