"use strict";
// The call view: a live call grows from server-sent events; a finished one
// comes from the store. Search terms (?q=) are marked; ?seg= or ?at= jumps.
const params = new URLSearchParams(location.search);
const callID = decodeURIComponent(location.pathname.split("/").pop());
let rec = null;
let TRANSCRIPTION = true; // false: no engine transcribes on this server
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

// ended says whether the call is over.
function ended() { return !!(rec.call.ended_at || (rec.sentiment && rec.sentiment.final)); }

const LABELS = { positive: "label.positive", negative: "label.negative", neutral: "label.neutral", mixed: "label.mixed" };
const END_REASONS = { "rtcp-bye": "end.rtcp-bye", announce: "end.announce", timeout: "end.timeout", shutdown: "end.shutdown" };

function renderMeta() {
  const c = rec.call;
  $("call-id").textContent = c.call_id;
  const meta = clear($("meta"));
  const item = (k, v) => meta.append(h("div", {}, h("span", {}, k), v));
  item(t("call.agent"), c.agent || "—");
  item(t("call.queue"), c.queue || "—");
  item(t("call.started"), fmtTime(c.started_at));
  item(t("call.duration"), c.ended_at || c.duration_ms ? fmtDur(c.duration_ms) : h("span", { class: "duration", "data-started": c.started_at }, fmtDur(Date.now() - new Date(c.started_at))));
  if (c.end_reason) item(t("call.ended"), h("span", { class: "end-reason", title: c.end_reason }, END_REASONS[c.end_reason] ? t(END_REASONS[c.end_reason]) : c.end_reason));
  for (const [k, v] of Object.entries(c.attributes || {})) item(k, v);
}

// transcriptNote says why the transcript is empty, when it is.
function transcriptNote(shown) {
  const note = $("transcript-note");
  note.hidden = shown > 0;
  if (shown > 0) return;
  if (!TRANSCRIPTION) note.textContent = t("call.no_transcription");
  else if (ended()) note.textContent = t("call.no_speech");
  else note.textContent = t("call.waiting");
}

function renderTranscript() {
  const ol = clear($("transcript"));
  const list = [...segs.values()].sort((a, b) => (a.start_ms - b.start_ms) || (a.id < b.id ? -1 : 1));
  const alertsAt = new Map();
  for (const a of rec.alerts || []) for (const m of a.matches || []) if (m.segment_id && !alertsAt.has(m.segment_id)) alertsAt.set(m.segment_id, a);
  for (const s of list) {
    if (!s.interim && !s.text && !s.original) continue;
    const sent = s.sentiment;
    const li = h("li", { class: "turn " + s.leg + (s.interim ? " interim" : ""), "data-seg": s.id, "data-start": s.start_ms, "data-end": s.end_ms },
      h("span", { class: "t" }, fmtMS(s.start_ms)),
      h("span", { class: "who" }, legName(s.leg)),
      h("span", { class: "mark " + (sent ? sent.label : ""), title: sent ? t("call.turn_sentiment", { label: LABELS[sent.label] ? t(LABELS[sent.label]) : sent.label, score: sent.compound.toFixed(2) }) : (s.interim ? t("call.still_speaking") : "") }),
      marked(h("span", { class: "text" }), s.original || s.text));
    const a = alertsAt.get(s.id);
    if (a) li.append(h("span", { class: "alert-inline " + sevClass(a.severity) }, t("call.alert_inline", { rule: a.rule_name })));
    ol.append(li);
  }
  transcriptNote(ol.children.length);
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

// alertAt is the moment an alert is shown at: the start of the turn it is
// pinned to (its first match), else when it was raised.
function alertAt(a) {
  const m = (a.matches || []).find((x) => x.segment_id) || (a.matches || [])[0];
  return m ? m.start_ms : a.at_ms;
}

function renderAlerts() {
  const ul = clear($("alerts"));
  for (const a of rec.alerts || []) {
    ul.append(h("li", { class: "alert " + sevClass(a.severity), "data-testid": "call-alert", "data-severity": a.severity || "", "data-at": alertAt(a) },
      h("b", {}, a.rule_name), " ", h("span", { class: "notice" }, t("call.alert_at", { severity: sevName(a.severity), at: fmtMS(alertAt(a)) })),
      h("div", {}, a.message || ""),
      (a.matches || []).map((m) => h("div", { class: "notice quote" }, m.text))));
  }
  if (!ul.children.length) ul.append(h("li", { class: "notice" }, t("call.none")));
  const cl = clear($("categories"));
  for (const c of rec.categories || []) cl.append(h("li", { class: "chip" }, c.name));
  if (!cl.children.length) cl.append(h("li", { class: "notice" }, ended() ? t("call.none") : t("call.none_yet")));
}

const COLORS = { agent: "#2457c5", customer: "#7a3ea1", a: "#2457c5", b: "#7a3ea1" };

// renderSentiment draws each side's score after every turn against call
// time, on a -5..+5 scale with its axes, units and a legend.
function renderSentiment() {
  const box = clear($("trend")), dl = clear($("sentiment"));
  const parts = (rec.sentiment && rec.sentiment.participants) || {};
  const roles = Object.keys(parts).sort();
  if (!roles.length) {
    dl.append(h("dd", { class: "notice wide" }, !TRANSCRIPTION ? t("call.no_score_off") : ended() ? t("call.no_score_ended") : t("call.no_score_yet")));
    return;
  }
  const w = 340, hg = 170, L = 34, R = 8, T = 8, B = 30;
  const pw = w - L - R, ph = hg - T - B;
  let last = 1000;
  for (const role of roles) for (const p of parts[role].trend || []) last = Math.max(last, p.at_ms);
  // Time ticks at a round step (at most 6 of them); the axis ends on one.
  const step = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000).find((s) => last / s <= 5) || 3600000 * Math.ceil(last / 18000000);
  const maxT = Math.ceil(last / step) * step;
  const X = (ms) => L + (ms / maxT) * pw;
  const Y = (v) => T + ((5 - Math.max(-5, Math.min(5, v))) / 10) * ph;
  const plot = svg("svg", { class: "plot", width: w, height: hg, viewBox: `0 0 ${w} ${hg}`, role: "img", "aria-label": t("chart.label") });
  const text = (x, y, s, attrs) => { const el = svg("text", Object.assign({ x, y }, attrs || {})); el.textContent = s; plot.append(el); };
  for (const v of [5, 0, -5]) {
    plot.append(svg("line", { x1: L, x2: w - R, y1: Y(v), y2: Y(v), class: v === 0 ? "grid zero" : "grid" }));
    text(L - 4, Y(v) + 4, fmtScore(v), { class: "tick", "text-anchor": "end" });
  }
  for (let ms = 0; ms <= maxT; ms += step) {
    plot.append(svg("line", { x1: X(ms), x2: X(ms), y1: T + ph, y2: T + ph + 4, class: "axis" }));
    text(X(ms), T + ph + 15, fmtMS(ms), { class: "tick", "text-anchor": ms === 0 ? "start" : ms === maxT ? "end" : "middle" });
  }
  plot.append(svg("line", { x1: L, x2: L, y1: T, y2: T + ph, class: "axis" }));
  plot.append(svg("line", { x1: L, x2: w - R, y1: T + ph, y2: T + ph, class: "axis" }));
  text(L + pw / 2, hg - 2, t("chart.x"), { class: "axis-title", "text-anchor": "middle" });
  const yTitle = svg("text", { class: "axis-title", x: 0, y: 0, transform: `translate(10 ${T + ph / 2}) rotate(-90)`, "text-anchor": "middle" });
  yTitle.textContent = t("chart.y");
  plot.append(yTitle);
  const legend = h("ul", { class: "legend" });
  for (const role of roles) {
    const p = parts[role], color = COLORS[role] || "#333";
    const pts = (p.trend || []).map((x) => [X(x.at_ms), Y(x.score)]);
    if (pts.length > 1) plot.append(svg("polyline", { points: pts.map((q) => q[0].toFixed(1) + "," + q[1].toFixed(1)).join(" "), stroke: color, "data-role": role }));
    for (const q of pts) plot.append(svg("circle", { cx: q[0].toFixed(1), cy: q[1].toFixed(1), r: 2.5, fill: color, "data-role": role }));
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = color; // CSSOM, which the CSP allows
    legend.append(h("li", { "data-role": role }, swatch, legName(role)));
    dl.append(h("dt", {}, legName(role)), h("dd", { class: "scores" }, h("b", { class: sentClass(p.current) }, fmtScore(p.current)), " ",
      t(ended() ? "call.score_end" : "call.score_now", { overall: fmtScore(p.overall), shift: fmtScore(p.shift) })));
  }
  box.append(plot, legend, h("p", { class: "notice small" }, t("chart.scale")));
}

// spansMinus returns the parts of spans outside every span of cut.
function spansMinus(spans, cut) {
  let out = spans.map((s) => [s.start_ms, s.end_ms]);
  for (const c of cut) {
    const next = [];
    for (const [a, b] of out) {
      if (c.end_ms <= a || c.start_ms >= b) { next.push([a, b]); continue; }
      if (c.start_ms > a) next.push([a, c.start_ms]);
      if (c.end_ms < b) next.push([c.end_ms, b]);
    }
    out = next;
  }
  return out;
}

// TL is the timeline's width and its margins left (the lanes' labels)
// and right, in its own units.
const TL = { W: 960, L: 112, R: 14 };

// renderTimeline draws a finished call on one time axis: each side's
// talk, the overlaps (interruptions), silences and holds, the alerts and
// each side's sentiment by quarter (dots: after each turn), with m:ss
// ticks and a legend. A click anywhere on it plays from there.
function renderTimeline() {
  const box = clear($("timeline"));
  $("timeline-card").hidden = !ended();
  if (!ended()) return;
  const ch = rec.characteristics || {};
  const parts = (rec.sentiment && rec.sentiment.participants) || {};
  const talk = [...segs.values()].filter((s) => !s.interim && s.end_ms > s.start_ms);
  const holds = ch.holds || [];
  const silences = spansMinus(ch.non_talk || [], holds);
  const overlaps = ch.interruptions || [];
  const alerts = rec.alerts || [];
  // Two lanes of talk: agent and customer, or legs a and b on calls
  // whose roles were not known.
  const legs = talk.some((s) => s.leg === "a" || s.leg === "b") && !talk.some((s) => s.leg === "agent" || s.leg === "customer") ? ["a", "b"] : ["agent", "customer"];
  let total = Math.max(1000, rec.call.duration_ms || 0);
  for (const s of talk.concat(holds, overlaps)) total = Math.max(total, s.end_ms);
  for (const a of alerts) total = Math.max(total, alertAt(a));
  // Lanes, top to bottom: [key, label, height].
  const lanes = legs.map((l) => ["talk-" + l, legName(l), 20]).concat([
    ["overlap", t("timeline.overlap"), 14], ["nontalk", t("timeline.nontalk"), 16],
    ["alerts", t("timeline.alerts"), 18], ["sentiment", t("timeline.sentiment"), 76]]);
  const { W, L, R } = TL, T = 6, GAP = 6, B = 34;
  const pw = W - L - R;
  const top = {};
  let y = T;
  for (const [key, , hl] of lanes) { top[key] = y; y += hl + GAP; }
  const ph = y - GAP - T, H = y - GAP + B;
  const step = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((x) => x * 1000).find((x) => total / x <= 10) || 3600000 * Math.ceil(total / 36000000);
  const maxT = Math.ceil(total / step) * step;
  const X = (ms) => L + (Math.max(0, Math.min(maxT, ms)) / maxT) * pw;
  const plot = svg("svg", { class: "plot timeline", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("timeline.label") });
  const titled = (el, s) => { const ti = svg("title", {}); ti.textContent = s; el.append(ti); plot.append(el); return el; };
  const text = (x, yy, s, cls, anchor) => { const el = svg("text", { x, y: yy, class: cls, "text-anchor": anchor || "start" }); el.textContent = s; plot.append(el); };
  for (const [key, label, hl] of lanes) {
    plot.append(svg("rect", { x: L, y: top[key], width: pw, height: hl, class: "lane" }));
    text(6, top[key] + (key === "sentiment" ? 12 : hl / 2 + 4), label, "lane-label");
  }
  for (let ms = 0; ms <= maxT; ms += step) {
    plot.append(svg("line", { x1: X(ms), x2: X(ms), y1: T, y2: T + ph, class: "grid" }));
    plot.append(svg("line", { x1: X(ms), x2: X(ms), y1: T + ph, y2: T + ph + 4, class: "axis" }));
    text(X(ms), T + ph + 15, fmtMS(ms), "tick", ms === 0 ? "start" : ms === maxT ? "end" : "middle");
  }
  plot.append(svg("line", { x1: L, x2: W - R, y1: T + ph, y2: T + ph, class: "axis" }));
  text(L + pw / 2, H - 3, t("chart.x"), "axis-title", "middle");
  const bar = (cls, a, b, yy, hl, title, extra) => titled(svg("rect", Object.assign({ class: cls, x: X(a).toFixed(1), y: yy, width: Math.max(1.5, X(b) - X(a)).toFixed(1), height: hl, "data-start": a, "data-end": b }, extra || {})), title);
  const span = (a, b) => fmtMS(a) + "–" + fmtMS(b);
  for (const s of talk) {
    const key = "talk-" + s.leg;
    if (!(key in top)) continue;
    bar("talk " + s.leg, s.start_ms, s.end_ms, top[key] + 2, 16, t("timeline.talk_title", { who: legName(s.leg), span: span(s.start_ms, s.end_ms) }), { "data-leg": s.leg, "data-seg": s.id });
  }
  for (const o of overlaps) {
    bar("overlap", o.start_ms, o.end_ms, top.overlap + 2, 10, t("timeline.overlap_title", { by: legName(o.by), of: legName(o.of), at: fmtMS(o.start_ms) }), { "data-by": o.by });
    // The overlap shows on both talk lanes too, as a band across them.
    const a = top["talk-" + legs[0]], b = top["talk-" + legs[1]] + 20;
    plot.append(svg("rect", { class: "overlap-band", x: X(o.start_ms).toFixed(1), y: a, width: Math.max(1.5, X(o.end_ms) - X(o.start_ms)).toFixed(1), height: b - a }));
  }
  for (const [a, b] of silences) bar("silence", a, b, top.nontalk + 3, 10, t("timeline.silence_title", { span: span(a, b) }));
  for (const hs of holds) bar("hold", hs.start_ms, hs.end_ms, top.nontalk + 1, 14, t("timeline.hold_title", { span: span(hs.start_ms, hs.end_ms) }));
  for (const a of alerts) {
    const x = X(alertAt(a)), yy = top.alerts + 2;
    titled(svg("path", { class: "alert-mark " + sevClass(a.severity), d: `M${x.toFixed(1)} ${yy + 14} l-6 -12 h12 z`, "data-at": alertAt(a) }),
      t("timeline.alert_title", { rule: a.rule_name, severity: sevName(a.severity), at: fmtMS(alertAt(a)) }));
  }
  // Sentiment: -5..+5 in its lane; each side's quarters as steps, its
  // score after each turn as dots.
  const st = top.sentiment + 6, sh = 64;
  const SY = (v) => st + ((5 - Math.max(-5, Math.min(5, v))) / 10) * sh;
  for (const v of [5, 0, -5]) {
    plot.append(svg("line", { x1: L, x2: W - R, y1: SY(v), y2: SY(v), class: v === 0 ? "grid zero" : "grid" }));
    text(L - 4, SY(v) + 3.5, fmtScore(v), "tick", "end");
  }
  const roles = Object.keys(parts).sort();
  for (const role of roles) {
    const p = parts[role], color = COLORS[role] || "#333", q = p.periods || [];
    const pts = [];
    q.forEach((v, i) => { pts.push([X((i * total) / q.length), SY(v)], [X(((i + 1) * total) / q.length), SY(v)]); });
    if (pts.length) {
      titled(svg("polyline", { class: "sent-quarters", stroke: color, "data-role": role, points: pts.map((x) => x[0].toFixed(1) + "," + x[1].toFixed(1)).join(" ") }),
        t("timeline.quarters_title", { who: legName(role), scores: q.map(fmtScore).join(" · ") }));
    }
    for (const x of p.trend || []) plot.append(svg("circle", { class: "sent-turn", cx: X(x.at_ms).toFixed(1), cy: SY(x.score).toFixed(1), r: 2, fill: color, "data-role": role }));
  }
  const head = svg("line", { id: "timeline-head", class: "head", x1: L, x2: L, y1: T, y2: T + ph });
  head.setAttribute("visibility", "hidden");
  plot.append(head);
  plot.dataset.maxMs = maxT;
  plot.addEventListener("click", (ev) => {
    if (!audio || audio.hidden) return;
    const pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(plot.getScreenCTM().inverse());
    if (pt.x < L || pt.x > W - R) return;
    audio.currentTime = Math.min(total, ((pt.x - L) / pw) * maxT) / 1000;
  });
  const legend = h("ul", { class: "legend timeline-legend" });
  const item = (cls, label, color) => {
    const sw = h("span", { class: "swatch " + cls });
    if (color) sw.style.background = color; // CSSOM, which the CSP allows
    legend.append(h("li", {}, sw, label));
  };
  for (const l of legs) if (talk.some((s) => s.leg === l)) item("talk " + l, t("timeline.legend_talk", { who: legName(l) }), COLORS[l]);
  item("overlap", t("timeline.legend_overlap"));
  item("silence", t("timeline.legend_silence"));
  item("hold", t("timeline.legend_hold"));
  item("alert-mark", t("timeline.legend_alert"));
  for (const role of roles) item("sent", t("timeline.legend_sentiment", { who: legName(role) }), COLORS[role]);
  box.append(plot, legend, h("p", { class: "notice small", id: "timeline-hint", hidden: !audio || audio.readyState < 1 }, t("timeline.hint")));
}

// timelineHead moves the timeline's playhead to ms.
function timelineHead(ms) {
  const head = $("timeline-head");
  if (!head) return;
  const plot = head.ownerSVGElement, maxT = Number(plot.dataset.maxMs);
  const x = TL.L + (Math.min(ms, maxT) / maxT) * (TL.W - TL.L - TL.R);
  head.setAttribute("x1", x.toFixed(1)); head.setAttribute("x2", x.toFixed(1));
  head.setAttribute("visibility", "visible");
}

function renderCharacteristics() {
  const dl = clear($("characteristics"));
  const ch = rec.characteristics;
  if (!ch) { dl.append(h("dd", { class: "notice wide" }, ended() ? t("call.none") : t("call.none_yet"))); return; }
  for (const [role, ms] of Object.entries(ch.talk_ms || {})) dl.append(h("dt", {}, t("call.talk_time", { who: legName(role) })), h("dd", {}, fmtDur(ms)));
  dl.append(h("dt", {}, t("call.non_talk")), h("dd", {}, fmtDur(ch.non_talk_ms)));
  if (ch.hold_ms) dl.append(h("dt", {}, t("call.hold")), h("dd", {}, fmtDur(ch.hold_ms)));
  dl.append(h("dt", {}, t("call.interruptions")), h("dd", {}, String((ch.interruptions || []).length)));
  // Korean turns: words are eojeol, with Hangul syllables per minute beside them.
  const spm = ch.talk_speed_spm || {};
  for (const [role, wpm] of Object.entries(ch.talk_speed_wpm || {})) {
    const speed = spm[role] ? t("call.wpm_spm", { count: Math.round(wpm), syllables: Math.round(spm[role]) }) : t("call.wpm", { count: Math.round(wpm) });
    dl.append(h("dt", {}, t("call.talk_speed", { who: legName(role) })), h("dd", {}, speed));
  }
}

function renderDTMF() {
  const ul = clear($("dtmf"));
  for (const d of rec.dtmf || []) ul.append(h("li", {}, t("call.dtmf_at", { at: fmtMS(d.start_ms), who: legName(d.leg) }), " ", h("b", {}, d.digit)));
  if (!ul.children.length) ul.append(h("li", { class: "notice" }, t("call.none")));
}

// renderSurvey shows the customer's post-call survey answers: each
// question, the answer on its scale, and when it was given.
function renderSurvey() {
  const box = clear($("survey"));
  for (const s of rec.surveys || []) {
    box.append(h("p", { class: "notice" }, t("call.survey_name", { name: s.survey })));
    box.append(h("table", { class: "survey" }, h("tbody", {}, s.answers.map((a) => h("tr", {},
      h("td", {}, a.prompt || a.question),
      h("td", { class: "num" }, h("b", {}, String(a.value)), " / " + a.scale.replace("-", "–")),
      h("td", { class: "num" }, fmtMS(a.at_ms)))))));
  }
  if (!box.children.length) box.append(h("p", { class: "notice" }, t("call.none")));
}

// The player: a finished call's recording, as 16-bit PCM WAV so every
// browser plays it; the turn heard is highlighted and a click on a turn
// seeks to it. A search hit (?seg=, ?at=) starts the player at its turn.
let audio = null;
function setupPlayer(original) {
  if (!ended()) return;
  audio = $("audio");
  $("player").hidden = false;
  audio.addEventListener("error", () => {
    audio.hidden = true;
    $("player-note").hidden = false;
    $("player-note").textContent = t("call.no_recording");
    if ($("timeline-hint")) $("timeline-hint").hidden = true;
  });
  audio.addEventListener("loadedmetadata", () => {
    const target = $("target");
    if (target) audio.currentTime = Number(target.dataset.start) / 1000;
    if ($("timeline-hint")) $("timeline-hint").hidden = false;
    heard();
  });
  audio.addEventListener("timeupdate", heard);
  audio.addEventListener("seeked", heard);
  $("speed").addEventListener("change", () => { audio.playbackRate = Number($("speed").value); });
  $("transcript").addEventListener("click", (ev) => {
    const li = ev.target.closest("li.turn");
    if (li) audio.currentTime = Number(li.dataset.start) / 1000;
  });
  $("alerts").addEventListener("click", (ev) => {
    const li = ev.target.closest("li.alert");
    if (li) audio.currentTime = Number(li.dataset.at) / 1000;
  });
  $("channels").addEventListener("change", channels);
  audio.src = "/api/calls/" + encodeURIComponent(callID) + "/recording?format=wav" + (original ? "&original=1" : "");
}

// channels plays both sides mixed, or one alone (the recording's left
// channel is the agent, the right the customer), through Web Audio.
let gains = null;
function channels() {
  if (!gains) {
    const ctx = new AudioContext();
    const split = ctx.createChannelSplitter(2), merge = ctx.createChannelMerger(2);
    ctx.createMediaElementSource(audio).connect(split);
    gains = [ctx.createGain(), ctx.createGain()];
    for (const i of [0, 1]) {
      split.connect(gains[i], i);
      gains[i].connect(merge, 0, 0);
      gains[i].connect(merge, 0, 1);
    }
    merge.connect(ctx.destination);
  }
  const v = $("channels").value;
  gains[0].gain.value = v === "customer" ? 0 : 1;
  gains[1].gain.value = v === "agent" ? 0 : 1;
}

// heard highlights the turn at the player's time (the latest to start).
function heard() {
  const ms = audio.currentTime * 1000;
  timelineHead(ms);
  let cur = null;
  for (const li of $("transcript").children) {
    if (ms >= Number(li.dataset.start) && ms < Number(li.dataset.end)) cur = li;
  }
  for (const li of document.querySelectorAll("#transcript li.playing")) if (li !== cur) li.classList.remove("playing");
  if (cur && !cur.classList.contains("playing")) {
    cur.classList.add("playing");
    cur.scrollIntoView({ block: "nearest" });
  }
}

function renderAll() {
  segs.clear();
  for (const s of rec.segments || []) segs.set(s.id, s);
  renderMeta(); renderTranscript(); renderAlerts(); renderSentiment(); renderCharacteristics(); renderDTMF(); renderSurvey(); renderTimeline();
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
    if (r.ended) {
      rec.call.duration_ms = r.duration_ms; rec.call.ended_at = new Date().toISOString(); $("live").hidden = true; es.close();
      renderTranscript(); renderAlerts(); renderSentiment(); renderCharacteristics(); renderTimeline();
    }
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
    $("notice").textContent = e.status === 404 ? t("call.not_found") : errText(e);
    return;
  }
  rec = d.record;
  TRANSCRIPTION = d.transcription !== false;
  $("live").hidden = !d.live;
  renderAll();
  if (d.live) follow(original);
  else setupPlayer(original);
  setInterval(() => {
    for (const el of document.querySelectorAll(".duration")) el.textContent = fmtDur(Date.now() - new Date(el.dataset.started));
  }, 1000);
  if (ME.forms && !d.live) await loadEvaluations(callID);
});
