"use strict";
// The live board: one row per active call, pushed over server-sent events.
const rows = new Map(); // call id -> row

function render() {
  const tbody = clear($("rows"));
  const list = [...rows.values()].sort((a, b) => (b.alerts - a.alerts) || (new Date(a.started_at) - new Date(b.started_at)));
  const queues = new Map();
  let alerting = 0;
  for (const r of list) {
    const q = r.queue || "(no queue)";
    queues.set(q, (queues.get(q) || 0) + 1);
    if (r.alerts > 0) alerting++;
    const sent = h("td", { class: "sentiment" });
    for (const role of Object.keys(r.participants || {}).sort()) {
      const p = r.participants[role];
      sent.append(h("span", { class: "sent" }, h("span", { class: "role" }, role),
        h("b", { class: sentClass(p.current) }, fmtScore(p.current)), sparkline(p.trend)));
    }
    const alertCell = h("td", {});
    if (r.alerts > 0) {
      const la = r.top_alert || {};
      alertCell.append(h("span", { class: "alert-badge sev-" + (la.severity || "critical"), "data-testid": "alert-badge", title: la.message || "" },
        "⚠ " + r.alerts + " · " + (la.rule_name || "alert")));
    }
    const tr = h("tr", {
      class: "row" + (r.alerts > 0 ? " alerting" : ""), "data-call": r.call_id,
      onclick: () => { location.href = callHref(r.call_id); },
    },
      h("td", {}, h("a", { href: callHref(r.call_id) }, r.call_id)),
      h("td", { class: "agent" }, r.agent || "—"),
      h("td", { class: "queue" }, r.queue || "—"),
      h("td", { class: "duration", "data-started": r.started_at }, fmtMS(Date.now() - new Date(r.started_at))),
      sent,
      h("td", { class: "non-talk", "data-call": r.call_id }, fmtMS(nonTalk(r))),
      h("td", {}, String(r.interruptions)),
      alertCell);
    tbody.append(tr);
  }
  $("empty").hidden = list.length > 0;
  const qs = clear($("queues"));
  for (const [q, n] of [...queues.entries()].sort()) qs.append(h("span", { class: "queue" }, h("b", {}, String(n)), q));
  const banner = $("alert-banner");
  banner.hidden = alerting === 0;
  banner.textContent = alerting === 1 ? "1 call has an alert" : alerting + " calls have alerts";
}

// nonTalk is a row's non-talk time now: a silence or hold going on counts
// up from its start on the call clock, once past its minimum.
function nonTalk(r) {
  const o = r.non_talk_open;
  if (!o) return r.non_talk_ms;
  const now = Date.now() - new Date(r.started_at);
  return now - o.start_ms > o.after_ms ? Math.max(r.non_talk_ms, o.base_ms + now - o.start_ms) : r.non_talk_ms;
}

function tick() {
  for (const td of document.querySelectorAll("td.duration")) {
    td.textContent = fmtMS(Date.now() - new Date(td.dataset.started));
  }
  for (const td of document.querySelectorAll("td.non-talk")) {
    const r = rows.get(td.dataset.call);
    if (r) td.textContent = fmtMS(nonTalk(r));
  }
}

start(async () => {
  const es = new EventSource("/api/ui/live");
  es.addEventListener("snapshot", (ev) => {
    const d = JSON.parse(ev.data);
    rows.clear();
    for (const r of d.rows) rows.set(r.call_id, r);
    if (!d.live) { $("notice").hidden = false; $("notice").textContent = "Live events are not available (no NATS connection)."; }
    $("conn").textContent = "live"; $("conn").className = "conn ok";
    render();
  });
  es.addEventListener("row", (ev) => { const r = JSON.parse(ev.data); if (!r.ended) rows.set(r.call_id, r); render(); });
  es.addEventListener("remove", (ev) => { rows.delete(JSON.parse(ev.data).call_id); render(); });
  es.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn"; };
  setInterval(tick, 1000);
});
