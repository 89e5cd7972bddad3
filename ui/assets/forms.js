"use strict";
// Evaluation forms: the newest version of each, edit and validate a form's
// YAML (problems at their line and column), save it as a new version, read
// past versions, and re-score stored calls with a version (dry run first).
const TEMPLATE = `form: my-form
name: My form
sections:
  - id: opening
    questions:
      - id: greeting
        text: Did the agent greet the customer?
        type: yes_no
        auto: {category: Greeted}
`;

async function showVersions(form) {
  const d = await api("/api/ui/forms/" + encodeURIComponent(form));
  $("versions-card").hidden = false;
  $("versions-title").textContent = t("forms.versions_of", { form });
  const tb = clear($("versions"));
  for (const v of d.versions) {
    const pre = h("pre", { hidden: true }, v.text);
    tb.append(h("tr", {}, h("td", {}, String(v.version)), h("td", {}, fmtTime(v.saved_at)), h("td", {}, v.saved_by),
      h("td", {}, v.hash.slice(0, 12)),
      h("td", {}, h("button", { class: "plain", onclick: () => { pre.hidden = !pre.hidden; } }, t("rules.show_text")),
        h("button", { class: "plain", onclick: () => edit(v) }, t("forms.edit_this")), pre)));
  }
}

function edit(v) {
  $("text").value = v.text;
  $("editing").textContent = t("forms.editing", { form: v.form, version: v.version });
  $("status").textContent = "";
  showProblems([]);
}

async function load() {
  const d = await api("/api/ui/forms");
  const tb = clear($("forms"));
  const sel = clear($("rs-form"));
  for (const f of d.forms) {
    tb.append(h("tr", {}, h("td", {}, f.name), h("td", {}, f.form), h("td", {}, String(f.version)), h("td", {}, f.saved_by),
      h("td", {}, fmtTime(f.saved_at)),
      h("td", {}, h("button", { class: "plain", onclick: async () => { edit(f); await showVersions(f.form); } }, t("forms.edit")))));
    sel.append(h("option", { value: f.form }, f.name + " (" + f.form + ")"));
  }
  if (!d.forms.length) tb.append(h("tr", { class: "empty" }, h("td", { colspan: 6, class: "notice" }, t("forms.none"))));
  return d.forms;
}

function rescoreRequest(dryRun) {
  const req = { form: $("rs-form").value, from: localToISO($("rs-from").value + "T00:00"), to: localToISO($("rs-to").value + "T00:00"), dry_run: dryRun };
  if ($("rs-version").value) req.version = Number($("rs-version").value);
  return req;
}

function showRescore(r) {
  const lines = [t(r.dry_run ? "forms.would_change" : "forms.changed", { count: r.changed, calls: r.calls, version: r.version })];
  if (r.mean_delta !== null) lines.push(t("forms.deltas", { up: r.up, down: r.down, mean: fmtScore(r.mean_delta), min: fmtScore(r.min_delta), max: fmtScore(r.max_delta) }));
  if (r.scored) lines.push(t("forms.newly_scored", { count: r.scored }));
  $("rs-status").textContent = lines.join(" ");
  const tb = clear($("rs-examples"));
  $("rs-table").hidden = !r.examples.length;
  for (const c of r.examples) {
    tb.append(h("tr", {}, h("td", {}, h("a", { href: callHref(c.call_id) }, c.call_id)), h("td", {}, pctText(c.before)), h("td", {}, pctText(c.after))));
  }
}

start(async () => {
  if (!ME.forms) { $("notice").hidden = false; $("notice").textContent = t("err.no_forms"); return; }
  const forms = await load();
  if (forms.length) { edit(forms[0]); await showVersions(forms[0].form); } else $("text").value = TEMPLATE;
  $("new-form").addEventListener("click", () => {
    $("text").value = TEMPLATE; $("editing").textContent = t("forms.editor"); $("versions-card").hidden = true; showProblems([]);
  });
  $("check").addEventListener("click", async () => {
    const r = await api("/api/ui/forms/check", { method: "POST", body: { text: $("text").value } });
    $("status").textContent = r.problems.length ? t("rules.problems", { count: r.problems.length }) : t("rules.no_problems");
    showProblems(r.problems);
  });
  $("save").addEventListener("click", async () => {
    const r = await api("/api/ui/forms", { method: "POST", body: { text: $("text").value }, allowStatus: true });
    if (r.status === 201) {
      const f = r.data.form;
      await load();
      edit(f);
      await showVersions(f.form);
      $("status").textContent = t("forms.saved", { form: f.form, version: f.version });
      return;
    }
    $("status").textContent = r.data && r.data.error ? errText({ data: r.data, message: r.data.error }) : t("forms.not_saved");
    showProblems(r.data && r.data.problems);
  });
  let dried = "";
  const changed = () => { $("rs-apply").disabled = true; dried = ""; };
  for (const id of ["rs-form", "rs-version", "rs-from", "rs-to"]) $(id).addEventListener("input", changed);
  $("rescore").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const req = rescoreRequest(true);
    const r = await api("/api/ui/forms/rescore", { method: "POST", body: req, allowStatus: true });
    if (r.status !== 200) { $("rs-status").textContent = errText({ data: r.data, message: r.data && r.data.error }); changed(); return; }
    showRescore(r.data);
    dried = JSON.stringify(rescoreRequest(false));
    $("rs-apply").disabled = false;
  });
  $("rs-apply").addEventListener("click", async () => {
    const req = rescoreRequest(false);
    if (JSON.stringify(req) !== dried || !confirm(t("forms.confirm_apply"))) return;
    const r = await api("/api/ui/forms/rescore", { method: "POST", body: req, allowStatus: true });
    if (r.status !== 200) { $("rs-status").textContent = errText({ data: r.data, message: r.data && r.data.error }); return; }
    showRescore(r.data);
    changed();
  });
});
