"use strict";
// The call view's evaluations: each scored form with its totals, every
// question's automatic answer and the answer that counts; analysts and
// admins change answers, each with a comment, and submit.

function answerName(q, v) {
  if (v === undefined || v === null || v === "") return t("eval.unanswered");
  if (q && q.type === "yes_no") return t(v === "yes" ? "eval.yes" : "eval.no");
  return v;
}

// answerInput is the control an analyst picks an answer with: "" keeps
// (or goes back to) the automatic answer.
function answerInput(q, a) {
  const current = a.by ? a.value : "";
  if (q.type === "number") {
    return h("input", { type: "number", step: "any", min: q.min, max: q.max, value: current, class: "answer",
      placeholder: t("eval.automatic", { answer: answerName(q, a.auto) }), "data-q": q.id });
  }
  const sel = h("select", { class: "answer", "data-q": q.id },
    h("option", { value: "" }, t("eval.automatic", { answer: answerName(q, a.auto) })),
    ...q.answers.map((v) => h("option", { value: v }, answerName(q, v))));
  sel.value = current;
  return sel;
}

function renderEvaluation(box, sf) {
  const ev = sf.evaluation, spec = sf.spec;
  const questions = new Map();
  const sections = new Map();
  if (spec) for (const s of spec.sections) { sections.set(s.id, s); for (const q of s.questions) questions.set(q.id, q); }
  const title = spec ? t("eval.form", { name: spec.name, version: spec.version }) : ev.form;
  const card = h("div", { class: "evaluation", "data-form": ev.form });
  card.append(h("h3", {}, title, " · ", h("span", { class: "eval-total" }, pctText(ev.score))));
  card.append(h("ul", { class: "chips" }, ...(ev.sections || []).map((s) =>
    h("li", {}, (sections.get(s.id) || { name: s.id }).name + " " + pctText(s.score)))));
  const editable = ME.can.answers && spec;
  const tb = h("tbody", {});
  for (const a of ev.answers) {
    const q = questions.get(a.question) || { id: a.question, text: a.question, type: "", answers: [] };
    const who = a.by ? t("eval.changed_by", { who: a.by, when: fmtTime(a.at) }) : "";
    const answerCell = editable ? answerInput(q, a) : answerName(q, a.value);
    const commentCell = editable
      ? h("input", { class: "comment", "data-q": q.id, value: a.comment || "", placeholder: t("eval.comment_placeholder"), maxlength: 2000 })
      : (a.comment || "");
    tb.append(h("tr", { class: a.by ? "changed" : "" }, h("td", {}, q.text), h("td", {}, answerName(q, a.auto)),
      h("td", {}, answerCell), h("td", {}, commentCell, who ? h("div", { class: "notice" }, who) : ""),
      h("td", {}, a.score === null || a.score === undefined ? "—" : pctText(a.score * 100))));
  }
  card.append(h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, t("eval.question")), h("th", {}, t("eval.auto")),
    h("th", {}, t("eval.answer")), h("th", {}, t("eval.comment")), h("th", {}, t("eval.score")))), tb));
  if (editable) {
    const status = h("p", { class: "eval-msg", role: "status" });
    card.append(h("div", { class: "buttons" }, h("button", { class: "eval-submit", onclick: () => submitChanges(card, sf, status) }, t("eval.submit")), status));
  }
  box.append(card);
}

async function submitChanges(card, sf, status) {
  const changes = [];
  for (const a of sf.evaluation.answers) {
    const input = card.querySelector(`.answer[data-q="${CSS.escape(a.question)}"]`);
    const comment = card.querySelector(`.comment[data-q="${CSS.escape(a.question)}"]`);
    if (!input) continue;
    const was = a.by ? a.value : "";
    const c = comment ? comment.value.trim() : "";
    if (input.value !== was || (input.value !== "" && c !== (a.comment || ""))) changes.push({ question: a.question, value: input.value, comment: c });
  }
  if (!changes.length) { status.textContent = t("eval.nothing_changed"); return; }
  const r = await api("/api/ui/calls/" + encodeURIComponent(callID) + "/evaluations/" + encodeURIComponent(sf.evaluation.form),
    { method: "POST", body: { changes }, allowStatus: true });
  if (r.status !== 200) { status.textContent = errText({ data: r.data, message: r.data && r.data.error }); return; }
  const next = h("div", {});
  renderEvaluation(next, r.data);
  card.replaceWith(next.firstChild);
  $("eval-status").textContent = t("eval.submitted");
}

async function loadEvaluations(id) {
  const d = await api("/api/ui/calls/" + encodeURIComponent(id) + "/evaluations");
  $("evaluations-card").hidden = false;
  const box = clear($("evaluations"));
  for (const sf of d.evaluations) renderEvaluation(box, sf);
  if (!d.evaluations.length) box.append(h("p", { class: "notice" }, t("eval.none")));
}
