"use strict";
// The call view: a live call grows from server-sent events; a finished one
// comes from the store. Search terms (?q=) are marked; ?seg= or ?at= jumps.
const params = new URLSearchParams(location.search);
const callID = decodeURIComponent(location.pathname.split("/").pop());
let rec = null;
let jumped = false;
const segs = new Map(); // id -> stored segment

// terms are the words and phrases of a search query, for marking.
function terms(q) {
  const out = [];
  const re = /"([^"]+)"|(\S+)/g;
  let m;
  while ((m = re.exec(q || "")) !== null) {
    let t = m[1] || m[2];
    if (!m[1] && /^(AND|OR|NOT)$/.test(t)) continue;
    t = t.replace(/^[-+(]+|[)*]+$/g, "");
    if (t) out.push(t.toLowerCase());
  }
  return out;
}
const marks = terms(params.get("q"));

// marked appends text to el with the search terms in <mark>s.
function marked(el, text) {
  text = text || "";
  if (!marks.length) { el.append(text); return el; }
  const low = text.toLowerCase();
  let pos = 0;
  while (pos < text.length) {
    let best = -1, len = 0;
    for (const t of marks) {
      const i = low.indexOf(t, pos);
      if (i >= 0 && (best < 0 || i < best)) { best = i; len = t.length; }
    }
    if (best < 0) break;
    if (best > pos) el.append(text.slice(pos, best));
    el.append(h("mark", {}, text.slice(best, best + len)));
    pos = best + len;
  }
  if (pos < text.length) el.append(text.slice(pos));
  return el;
}

function renderMeta() {
  const c = rec.call;
  $("call-id").textContent = c.call_id;
  const meta = clear($("meta"));
  const item = (k, v) => meta.append(h("div", {}, h("span", {}, k), v));
  item("Agent", c.agent || "—");
  item("Queue", c.queue || "—");
  item("Started", fmtTime(c.started_at));
  item("Duration", c.ended_at || c.duration_ms ? fmtMS(c.duration_ms) : h("span", { class: "duration", "data-started": c.started_at }, fmtMS(Date.now() - new Date(c.started_at))));
  if (c.end_reason) item("Ended by", c.end_reason);
  for (const [k, v] of Object.entries(c.attributes || {})) item(k, v);
}

function renderTranscript() {
  const ol = clear($("transcript"));
  const list = [...segs.values()].sort((a, b) => (a.start_ms - b.start_ms) || (a.id < b.id ? -1 : 1));
  const alertsAt = new Map();
  for (const a of rec.alerts || []) for (const m of a.matches || []) if (m.segment_id) alertsAt.set(m.segment_id, a);
  for (const s of list) {
    if (!s.interim && !s.text && !s.original) continue;
    const sent = s.sentiment;
    const li = h("li", { class: "turn " + s.leg + (s.interim ? " interim" : ""), "data-seg": s.id, "data-start": s.start_ms },
      h("span", { class: "t" }, fmtMS(s.start_ms)),
      h("span", { class: "who" }, s.leg),
      h("span", { class: "mark " + (sent ? sent.label : ""), title: sent ? sent.label + " " + sent.compound.toFixed(2) : (s.interim ? "still speaking" : "") }),
      marked(h("span", { class: "text" }), s.original || s.text));
    const a = alertsAt.get(s.id);
    if (a) li.append(h("span", { class: "alert-inline" }, "⚠ " + a.rule_name));
    ol.append(li);
  }
  jump();
}

function jump() {
  if (jumped) return;
  const seg = params.get("seg"), at = params.get("at");
  if (!seg && !at) return;
  let target = null;
  for (const li of $("transcript").children) {
    if (seg && li.dataset.seg === seg) { target = li; break; }
    if (!seg && at && Number(li.dataset.start) >= Number(at) - 500) { target = li; break; }
  }
  if (!target) return;
  jumped = true;
  target.classList.add("target");
  target.id = "target";
  target.scrollIntoView({ block: "center" });
}

function renderAlerts() {
  const ul = clear($("alerts"));
  for (const a of rec.alerts || []) {
    ul.append(h("li", { class: "alert", "data-testid": "call-alert" },
      h("b", {}, a.rule_name), " ", h("span", { class: "notice" }, a.severity + " at " + fmtMS(a.at_ms)),
      h("div", {}, a.message || ""),
      (a.matches || []).map((m) => h("div", { class: "notice" }, "“", m.text, "”"))));
  }
  if (!ul.children.length) ul.append(h("li", { class: "notice" }, "none"));
  const cl = clear($("categories"));
  for (const c of rec.categories || []) cl.append(h("li", {}, c.name));
  if (!cl.children.length) cl.append(h("li", { class: "notice" }, "none yet"));
}

const COLORS = { agent: "#2457c5", customer: "#7a3ea1", a: "#2457c5", b: "#7a3ea1" };

function renderSentiment() {
  const box = clear($("trend")), dl = clear($("sentiment"));
  const parts = (rec.sentiment && rec.sentiment.participants) || {};
  const w = 320, hg = 120;
  const plot = svg("svg", { class: "plot", width: w, height: hg, viewBox: `0 0 ${w} ${hg}`, role: "img", "aria-label": "sentiment trend" });
  plot.append(svg("line", { x1: 0, x2: w, y1: hg / 2, y2: hg / 2, stroke: "#ccc", "stroke-dasharray": "3 3" }));
  let maxT = 1;
  for (const p of Object.values(parts)) for (const t of p.trend || []) maxT = Math.max(maxT, t.at_ms);
  for (const role of Object.keys(parts).sort()) {
    const p = parts[role];
    const pts = (p.trend || []).map((t) => ((t.at_ms / maxT) * (w - 10) + 5).toFixed(1) + "," + (hg / 2 - (Math.max(-5, Math.min(5, t.score)) / 5) * (hg / 2 - 5)).toFixed(1));
    if (pts.length) plot.append(svg("polyline", { points: pts.join(" "), stroke: COLORS[role] || "#333", "data-role": role }));
    dl.append(h("dt", {}, role), h("dd", {}, h("b", { class: sentClass(p.current) }, fmtScore(p.current)),
      " now · overall " + fmtScore(p.overall) + " · shift " + fmtScore(p.shift)));
  }
  box.append(plot);
  if (!Object.keys(parts).length) dl.append(h("dd", { class: "notice" }, "no score yet"));
}

function renderCharacteristics() {
  const dl = clear($("characteristics"));
  const ch = rec.characteristics;
  if (!ch) { dl.append(h("dd", { class: "notice" }, "none yet")); return; }
  for (const [role, ms] of Object.entries(ch.talk_ms || {})) dl.append(h("dt", {}, "Talk time (" + role + ")"), h("dd", {}, fmtMS(ms)));
  dl.append(h("dt", {}, "Non-talk time"), h("dd", {}, fmtMS(ch.non_talk_ms)));
  dl.append(h("dt", {}, "Interruptions"), h("dd", {}, String((ch.interruptions || []).length)));
  const spm = ch.talk_speed_spm || {};
  for (const [role, wpm] of Object.entries(ch.talk_speed_wpm || {})) {
    // Korean turns: words are eojeol; syllables per minute beside them.
    const syl = spm[role] ? " · " + Math.round(spm[role]) + " syllables/min" : "";
    dl.append(h("dt", {}, "Talk speed (" + role + ")"), h("dd", {}, Math.round(wpm) + " wpm" + syl));
  }
}

function renderDTMF() {
  const ul = clear($("dtmf"));
  for (const d of rec.dtmf || []) ul.append(h("li", {}, fmtMS(d.start_ms) + " " + d.leg + ": ", h("b", {}, d.digit)));
  if (!ul.children.length) ul.append(h("li", { class: "notice" }, "none"));
}

function renderAll() {
  segs.clear();
  for (const s of rec.segments || []) segs.set(s.id, s);
  renderMeta(); renderTranscript(); renderAlerts(); renderSentiment(); renderCharacteristics(); renderDTMF();
}

function follow(original) {
  const es = new EventSource("/api/ui/calls/" + encodeURIComponent(callID) + "/events" + (original ? "?original=1" : ""));
  const on = (kind, fn) => es.addEventListener(kind, (ev) => { fn(JSON.parse(ev.data)); });
  on("snapshot", (d) => { rec = d.record; $("live").hidden = !d.live; renderAll(); });
  on("segment", (s) => {
    const old = segs.get(s.id);
    if (old && !old.interim && s.interim) return;
    segs.set(s.id, s); renderTranscript();
  });
  on("sentiment", (s) => { rec.sentiment = s; renderSentiment(); });
  on("characteristics", (c) => { rec.characteristics = c; renderCharacteristics(); });
  on("alert", (a) => { rec.alerts = (rec.alerts || []).concat([a]); renderAlerts(); renderTranscript(); });
  on("categories", (c) => { rec.categories = c.categories; renderAlerts(); });
  on("dtmf", (d) => { rec.dtmf = (rec.dtmf || []).concat([d]); renderDTMF(); });
  on("row", (r) => {
    rec.call.agent = r.agent; rec.call.queue = r.queue; rec.call.started_at = r.started_at;
    if (r.ended) { rec.call.duration_ms = r.duration_ms; rec.call.ended_at = new Date().toISOString(); $("live").hidden = true; es.close(); }
    renderMeta();
  });
}

start(async () => {
  const original = params.get("original") === "1";
  if (ME.can.original) {
    $("original-toggle").hidden = false;
    $("original").checked = original;
    $("original").addEventListener("change", () => {
      params.set("original", $("original").checked ? "1" : "0");
      location.search = params.toString();
    });
  }
  let d;
  try {
    d = await api("/api/ui/calls/" + encodeURIComponent(callID) + (original ? "?original=1" : ""));
  } catch (e) {
    $("notice").hidden = false;
    $("notice").textContent = e.status === 404 ? "No such call (or it is not live and search is not available)." : String(e.message);
    return;
  }
  rec = d.record;
  $("live").hidden = !d.live;
  renderAll();
  if (d.live) follow(original);
  setInterval(() => {
    for (const el of document.querySelectorAll(".duration")) el.textContent = fmtMS(Date.now() - new Date(el.dataset.started));
  }, 1000);
});
