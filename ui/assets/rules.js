"use strict";
// Rules: edit, validate, dry-run and activate the rule file; history.

async function load() {
  const src = await api("/api/ui/rules");
  $("text").value = src.text;
  $("version").textContent = src.version ? t("rules.version_is", { version: src.version.slice(0, 12) }) : "";
  const hist = await api("/api/ui/rules/history");
  const tb = clear($("history"));
  for (const c of hist.changes) { // newest first
    const pre = h("pre", { hidden: true }, c.text);
    tb.append(h("tr", {}, h("td", {}, fmtTime(c.at)), h("td", {}, c.by), h("td", {}, String(c.rules)),
      h("td", {}, (c.version || "").slice(0, 12)),
      h("td", {}, h("button", { class: "plain", onclick: () => { pre.hidden = !pre.hidden; } }, t("rules.show_text")), pre)));
  }
  if (!hist.changes.length) tb.append(h("tr", { class: "empty" }, h("td", { colspan: 5, class: "notice" }, t("rules.history_empty"))));
}

start(async () => {
  if (!ME.rules) { $("notice").hidden = false; $("notice").textContent = t("err.no_rules"); return; }
  await load();
  $("check").addEventListener("click", async () => {
    const r = await api("/api/ui/rules/check", { method: "POST", body: { text: $("text").value } });
    $("status").textContent = r.problems.length ? t("rules.problems", { count: r.problems.length }) : t("rules.no_problems");
    showProblems(r.problems);
  });
  $("activate").addEventListener("click", async () => {
    if (!confirm(t("rules.confirm_activate"))) return;
    const r = await api("/api/ui/rules/activate", { method: "POST", body: { text: $("text").value }, allowStatus: true });
    if (r.status === 200) { $("status").textContent = t("rules.activated"); showProblems([]); await load(); }
    else { $("status").textContent = r.data && r.data.error ? errText({ data: r.data, message: r.data.error }) : t("rules.not_activated"); showProblems(r.data && r.data.problems); }
  });
  $("dryrun").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const query = { q: $("dq").value };
    if ($("dfrom").value) query.from = localToISO($("dfrom").value);
    if ($("dto").value) query.to = localToISO($("dto").value);
    const tb = clear($("matches"));
    const r = await api("/api/ui/rules/dryrun", { method: "POST", body: { text: $("text").value, query }, allowStatus: true });
    if (r.status !== 200) {
      $("dry-status").textContent = r.data && r.data.error ? errText({ data: r.data, message: r.data.error }) : t("rules.dryrun_failed");
      if (r.data && r.data.problems) { $("status").textContent = t("rules.fix_problems"); showProblems(r.data.problems); }
      return;
    }
    $("dry-status").textContent = t("rules.matches", { count: r.data.matches.length });
    for (const m of r.data.matches) {
      const first = (m.matches || [])[0];
      tb.append(h("tr", {}, h("td", {}, m.rule_name || m.rule_id),
        h("td", {}, h("a", { href: callHref(m.call_id, first ? { seg: first.segment_id, at: first.start_ms } : {}) }, m.call_id)),
        h("td", {}, (m.matches || []).map((x) => h("div", {}, h("span", { class: "notice" }, t("search.snippet_at", { at: fmtMS(x.start_ms), who: legName(x.leg) })), " ", h("q", {}, x.text))))));
    }
  });
});
