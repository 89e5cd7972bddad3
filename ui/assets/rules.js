"use strict";
// Rules: edit, validate, dry-run and activate the rule file; history.
function showProblems(problems) {
  const ul = clear($("problems"));
  for (const p of problems || []) {
    ul.append(h("li", { onclick: () => goLine(p.line) }, "line " + p.line + (p.column ? ":" + p.column : "") + ": " + p.message));
  }
}

function goLine(n) {
  const ta = $("text");
  const lines = ta.value.split("\n");
  let pos = 0;
  for (let i = 0; i < n - 1 && i < lines.length; i++) pos += lines[i].length + 1;
  ta.focus();
  ta.setSelectionRange(pos, pos + (lines[n - 1] || "").length);
}

async function load() {
  const src = await api("/api/ui/rules");
  $("text").value = src.text;
  $("version").textContent = src.version ? "version " + src.version.slice(0, 12) : "";
  const hist = await api("/api/ui/rules/history");
  const tb = clear($("history"));
  for (const c of hist.changes.slice().reverse()) {
    const pre = h("pre", { hidden: true }, c.text);
    tb.append(h("tr", {}, h("td", {}, fmtTime(c.at)), h("td", {}, c.by), h("td", {}, String(c.rules)),
      h("td", {}, (c.version || "").slice(0, 12)),
      h("td", {}, h("button", { class: "plain", onclick: () => { pre.hidden = !pre.hidden; } }, "text"), pre)));
  }
}

start(async () => {
  if (!ME.rules) { $("notice").hidden = false; $("notice").textContent = "Rules are not available: no rules engine is connected."; return; }
  await load();
  $("check").addEventListener("click", async () => {
    const r = await api("/api/ui/rules/check", { method: "POST", body: { text: $("text").value } });
    $("status").textContent = r.problems.length ? r.problems.length + " problem(s)" : "No problems.";
    showProblems(r.problems);
  });
  $("activate").addEventListener("click", async () => {
    if (!confirm("Activate these rules on live calls?")) return;
    const r = await api("/api/ui/rules/activate", { method: "POST", body: { text: $("text").value }, allowStatus: true });
    if (r.status === 200) { $("status").textContent = "Activated."; showProblems([]); await load(); }
    else { $("status").textContent = (r.data && r.data.error) || "Not activated: fix the problems below."; showProblems(r.data && r.data.problems); }
  });
  $("dryrun").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const query = { q: $("dq").value };
    if ($("dfrom").value) query.from = localToISO($("dfrom").value);
    if ($("dto").value) query.to = localToISO($("dto").value);
    const tb = clear($("matches"));
    const r = await api("/api/ui/rules/dryrun", { method: "POST", body: { text: $("text").value, query }, allowStatus: true });
    if (r.status !== 200) { $("status").textContent = (r.data && r.data.error) || "Dry run failed."; showProblems(r.data && r.data.problems); return; }
    $("status").textContent = r.data.matches.length + " match(es)";
    for (const m of r.data.matches) {
      const first = (m.matches || [])[0];
      tb.append(h("tr", {}, h("td", {}, m.rule_name || m.rule_id),
        h("td", {}, h("a", { href: callHref(m.call_id, first ? { seg: first.segment_id, at: first.start_ms } : {}) }, m.call_id)),
        h("td", {}, (m.matches || []).map((x) => h("div", {}, fmtMS(x.start_ms) + " " + (x.leg || "") + ": “", x.text, "”")))));
    }
  });
});
