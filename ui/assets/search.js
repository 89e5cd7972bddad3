"use strict";
// Search: the store's search with its filters; snippets arrive cut into
// parts (marked hits) by the server, and link into the call view.
const FIELDS = ["q", "agent", "queue", "leg", "category", "has_alert", "min_sentiment", "max_sentiment", "min_score", "max_score", "csat"];

async function run(qs) {
  $("error").textContent = "";
  const hits = clear($("hits"));
  let res;
  try {
    res = await api("/api/ui/search?" + qs.toString());
  } catch (e) {
    $("error").textContent = errText(e);
    $("total").textContent = "";
    return;
  }
  $("total").textContent = t("search.total", { count: res.total });
  for (const hit of res.hits) {
    const c = hit.call;
    const li = h("li", { class: "hit", "data-call": c.call_id },
      h("div", { class: "hit-head" },
        h("a", { href: callHref(c.call_id, { q: qs.get("q") }), class: "call-link" }, h("b", {}, c.call_id)),
        h("span", { class: "agent" }, c.agent || "—"), h("span", { class: "queue-name" }, c.queue || "—"),
        h("span", { class: "when" }, fmtTime(c.started_at)), h("span", { class: "duration" }, fmtDur(c.duration_ms)),
        c.alert_count ? h("span", { class: "alert-badge sev-warning static", "data-testid": "hit-alerts" }, t("search.alerts", { count: c.alert_count })) : null,
        (c.categories || []).map((x) => h("span", { class: "chip" }, x))));
    for (const sn of hit.snippets || []) {
      const a = h("a", { class: "snippet", href: callHref(c.call_id, { seg: sn.segment_id, at: sn.start_ms, q: qs.get("q") }) },
        h("span", { class: "notice" }, t("search.snippet_at", { at: fmtMS(sn.start_ms), who: legName(sn.leg) })), " ");
      for (const p of sn.parts || []) a.append(p.hit ? h("mark", {}, p.t) : p.t);
      li.append(a);
    }
    hits.append(li);
  }
  // Pages: the store answers 20 at a time unless told otherwise.
  const offset = Number(qs.get("offset") || 0), limit = Number(qs.get("limit") || 20);
  const pager = clear($("pager"));
  const page = (label, off) => {
    const next = new URLSearchParams(qs);
    next.set("offset", String(off));
    pager.append(h("button", { class: "plain", onclick: () => { history.replaceState(null, "", "/search?" + next.toString()); run(next); } }, label));
  };
  if (offset > 0) page(t("search.previous"), Math.max(0, offset - limit));
  if (offset + res.hits.length < res.total) page(t("search.next"), offset + limit);
}

start(async () => {
  if (!ME.store) { $("error").textContent = t("err.no_store"); }
  const params = new URLSearchParams(location.search);
  for (const f of FIELDS) if (params.has(f)) $(f).value = params.get(f);
  if (ME.role === "agent") { $("agent").value = ME.agent; $("agent").disabled = true; }
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const qs = new URLSearchParams();
    for (const f of FIELDS) if ($(f).value) qs.set(f, $(f).value);
    for (const f of ["from", "to"]) if ($(f).value) qs.set(f, localToISO($(f).value));
    history.replaceState(null, "", "/search?" + qs.toString());
    run(qs);
  });
  if ([...params.keys()].length && ME.store) run(params);
});
