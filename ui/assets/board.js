"use strict";
// The live board: one row per active call, pushed over server-sent events.
const rows = new Map(); // call id -> row

function render() {
  const tbody = clear($("rows"));
  const list = [...rows.values()].sort((a, b) => (b.alerts - a.alerts) || (new Date(a.started_at) - new Date(b.started_at)));
  const queues = new Map();
  let alerting = 0;
  for (const r of list) {
    const q = r.queue || t("board.no_queue");
    queues.set(q, (queues.get(q) || 0) + 1);
    if (r.alerts > 0) alerting++;
    // One line per side: who, the current score, the trend; aligned.
    const grid = h("div", { class: "sents" });
    for (const role of Object.keys(r.participants || {}).sort()) {
      const p = r.participants[role];
      grid.append(h("span", { class: "role" }, legName(role)), h("b", { class: sentClass(p.current) }, fmtScore(p.current)), sparkline(p.trend));
    }
    const sent = h("td", { class: "sentiment" }, grid);
    const alertCell = h("td", {});
    if (r.alerts > 0) {
      // The most severe alert names the badge; its colour is its severity.
      const top = r.top_alert || {};
      alertCell.append(h("span", { class: "alert-badge " + sevClass(top.severity), "data-testid": "alert-badge", "data-severity": top.severity || "",
        title: top.message || "" }, t("board.alert_badge", { count: r.alerts, rule: top.rule_name || t("board.alert") })));
    }
    const tr = h("tr", {
      class: "row" + (r.alerts > 0 ? " alerting" : ""), "data-call": r.call_id,
      onclick: () => { location.href = callHref(r.call_id); },
    },
      h("td", {}, h("a", { href: callHref(r.call_id) }, r.call_id)),
      h("td", { class: "agent" }, r.agent || "—"),
      h("td", { class: "queue" }, r.queue || "—"),
      h("td", { class: "duration", "data-started": r.started_at }, fmtDur(Date.now() - new Date(r.started_at))),
      sent,
      h("td", { class: "non-talk", "data-call": r.call_id }, fmtDur(nonTalk(r))),
      h("td", {}, String(r.interruptions)),
      alertCell);
    tbody.append(tr);
  }
  $("empty").hidden = list.length > 0;
  const qs = clear($("queues"));
  for (const [q, n] of [...queues.entries()].sort()) {
    qs.append(h("span", { class: "queue-count" }, h("b", {}, String(n)), h("span", {}, q)));
  }
  const banner = $("alert-banner");
  banner.hidden = alerting === 0;
  banner.textContent = t("board.banner", { count: alerting });
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
    td.textContent = fmtDur(Date.now() - new Date(td.dataset.started));
  }
  for (const td of document.querySelectorAll("td.non-talk")) {
    const r = rows.get(td.dataset.call);
    if (r) td.textContent = fmtDur(nonTalk(r));
  }
}

start(async () => {
  const es = new EventSource("/api/ui/live");
  es.addEventListener("snapshot", (ev) => {
    const d = JSON.parse(ev.data);
    rows.clear();
    for (const r of d.rows) rows.set(r.call_id, r);
    if (!d.live) { $("notice").hidden = false; $("notice").textContent = t("board.no_live"); }
    $("conn").textContent = t("board.live"); $("conn").className = "conn ok";
    render();
  });
  es.addEventListener("row", (ev) => { const r = JSON.parse(ev.data); if (!r.ended) rows.set(r.call_id, r); render(); });
  es.addEventListener("remove", (ev) => { rows.delete(JSON.parse(ev.data).call_id); render(); });
  es.onerror = () => { $("conn").textContent = t("board.reconnecting"); $("conn").className = "conn"; };
  setInterval(tick, 1000);
});
