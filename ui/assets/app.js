// Earshot web view: shared helpers. Every text that came from a call, a
// user or a rule goes into the page as a text node, never as markup.
"use strict";

// h builds an element: h("a", {class: "x", href: "/y"}, "text", child...).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "href") el.href = safeHref(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// safeHref allows only same-site paths.
function safeHref(v) {
  v = String(v);
  return /^\/(?![\/\\])/.test(v) ? v : "#";
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

const $ = (id) => document.getElementById(id);

// The page's language and message catalogue, chosen by the server (the
// user's setting, else the browser's Accept-Language).
const LANG = document.documentElement.lang || "en";
const CAT = (() => { try { return JSON.parse($("i18n").textContent); } catch (e) { return {}; } })();
const PLURAL = new Intl.PluralRules(LANG);

// t is the catalogue's message for key with its {name} placeholders filled
// from params; a message with plural forms picks one by params.count.
function t(key, params) {
  params = params || {};
  let m = CAT[key];
  if (m === undefined) return key;
  if (typeof m === "object") m = m[PLURAL.select(Number(params.count))] || m.other;
  return m.replace(/\{(\w+)\}/g, (all, name) => (params[name] === undefined ? all : String(params[name])));
}

// errText is an API error in the page's language: the server names its
// catalogue key where it has one.
function errText(e) {
  const d = e && e.data;
  if (d && d.key && CAT[d.key] !== undefined) return t(d.key, d.params);
  return String((e && e.message) || e);
}

let ME = null;

// api calls the JSON API; a lost login goes back to the login page.
async function api(path, opts) {
  opts = opts || {};
  const headers = { "Accept": "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (ME && ME.csrf && opts.method && opts.method !== "GET") headers["X-CSRF-Token"] = ME.csrf;
  const res = await fetch(path, {
    method: opts.method || "GET", headers, credentials: "same-origin",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (res.status === 401 && !opts.noRedirect) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("not logged in");
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok && !opts.allowStatus) {
    const err = new Error((data && data.error) || res.statusText);
    err.status = res.status; err.data = data;
    throw err;
  }
  if (opts.allowStatus) return { status: res.status, data };
  return data;
}

// start loads who is logged in, draws the navigation and runs main.
async function start(main) {
  try {
    ME = await api("/api/ui/me");
  } catch (e) { return; }
  const nav = clear($("nav"));
  const link = (href, text) => h("a", { href, class: location.pathname === href ? "here" : "" }, text);
  nav.append(h("strong", {}, "Earshot"));
  if (ME.can.board) nav.append(link("/", t("nav.board")));
  if (ME.can.search) nav.append(link("/search", t("nav.search")));
  if (ME.can.dashboard) nav.append(link("/dashboard", t("nav.dashboard")));
  if (ME.can.rules) nav.append(link("/rules", t("nav.rules")));
  if (ME.can.forms) nav.append(link("/forms", t("nav.forms")));
  if (ME.can.users) nav.append(link("/users", t("nav.users")));
  nav.append(h("span", { class: "who" }, t("nav.who", { name: ME.name, role: roleName(ME.role) })));
  nav.append(languageSelect(ME.language, async (lang) => {
    await api("/api/ui/me/language", { method: "PUT", body: { language: lang } });
    location.assign(location.pathname + location.search); // the page again, in its new language
  }, { id: "language", title: t("nav.language") }));
  nav.append(h("button", { id: "password-change", onclick: changePassword }, t("nav.password")));
  nav.append(h("button", { id: "logout", onclick: async () => {
    await api("/api/ui/logout", { method: "POST", body: {} });
    location.href = "/login";
  } }, t("nav.logout")));
  try { await main(); } catch (e) { showError(e); }
}

const ROLE_NAMES = { agent: "role.agent", supervisor: "role.supervisor", analyst: "role.analyst", admin: "role.admin" };
const LEG_NAMES = { agent: "leg.agent", customer: "leg.customer" };
function roleName(r) { return ROLE_NAMES[r] ? t(ROLE_NAMES[r]) : r; }
function legName(l) { return LEG_NAMES[l] ? t(LEG_NAMES[l]) : (l || ""); }

// languageSelect is a choice of the web view's language ("" follows the
// browser); onchange gets the new value.
function languageSelect(value, onchange, attrs) {
  const sel = h("select", Object.assign({ class: "language" }, attrs || {}),
    h("option", { value: "", selected: !value }, t("lang.auto")),
    h("option", { value: "en", selected: value === "en" }, t("lang.en")),
    h("option", { value: "ko", selected: value === "ko" }, t("lang.ko")));
  if (onchange) sel.addEventListener("change", () => onchange(sel.value));
  return sel;
}

// changePassword asks for the current and a new password in a dialog.
function changePassword() {
  const old = h("input", { type: "password", autocomplete: "current-password", required: true });
  const pw = h("input", { type: "password", autocomplete: "new-password", minlength: 10, required: true });
  const msg = h("p", { class: "error", role: "alert" });
  const dlg = h("dialog", { class: "card" });
  const form = h("form", { class: "narrow", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/ui/me/password", { method: "POST", body: { old: old.value, new: pw.value } });
      dlg.close(); dlg.remove();
    } catch (e) { msg.textContent = errText(e); }
  } },
    h("h2", {}, t("password.title")),
    h("label", {}, t("password.current"), old),
    h("label", {}, t("password.new", { min: 10 }), pw),
    msg,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, t("password.change")),
      h("button", { type: "button", class: "plain", onclick: () => { dlg.close(); dlg.remove(); } }, t("button.cancel"))));
  dlg.append(form);
  document.body.append(dlg);
  dlg.showModal();
}

function showError(e) {
  const el = $("error") || $("notice") || $("status");
  if (el) { el.hidden = false; el.textContent = errText(e); }
}

// fmtMS is a call-clock time (a moment in the call): m:ss.
function fmtMS(ms) {
  ms = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(ms / 3600), m = Math.floor(ms / 60) % 60, s = ms % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss;
}

// fmtDur is a length of time in words of the page's language: "3 min 5 s".
function fmtDur(ms) {
  const all = Math.max(0, Math.floor((ms || 0) / 1000));
  const hh = Math.floor(all / 3600), mm = Math.floor(all / 60) % 60, ss = all % 60;
  if (hh > 0) return t("dur.hms", { h: hh, m: mm, s: ss });
  if (mm > 0) return t("dur.ms", { m: mm, s: ss });
  return t("dur.s", { s: ss });
}

const DATE_FMT = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short" });
function fmtTime(v) {
  const d = new Date(v);
  return !v || isNaN(d) ? "" : DATE_FMT.format(d);
}

function sentClass(score) { return score > 0.5 ? "pos" : score < -0.5 ? "neg" : "neu"; }

const SCORE_FMT = new Intl.NumberFormat(LANG, { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" });
function fmtScore(x) { return SCORE_FMT.format(Number(x || 0)); }
const PCT_FMT = new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 });
// pctText is an evaluation's total (0..100), or says there is none.
function pctText(v) { return v === null || v === undefined ? t("forms.unscored") : t("forms.pct", { pct: PCT_FMT.format(v) }); }

// Alert severities, least to most severe; each has a colour (app.css
// .sev-*) and a name in the catalogue.
const SEVERITIES = ["info", "warning", "critical"];
const SEV_NAMES = { info: "sev.info", warning: "sev.warning", critical: "sev.critical" };
function sevClass(s) { return "sev-" + (SEVERITIES.includes(s) ? s : "critical"); }
function sevName(s) { return SEV_NAMES[s] ? t(SEV_NAMES[s]) : (s || ""); }

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

function sentColor(v) { return v > 0.5 ? "#1a7f37" : v < -0.5 ? "#c62828" : "#8a8f98"; }

// sparkline draws scores (-5..+5) as a line scaled to their own range (at
// least 2 points high, so a small change shows), with the zero line where
// it falls in range and a dot on the latest score (so one score shows).
function sparkline(values, w, hgt) {
  w = w || 110; hgt = hgt || 30;
  const s = svg("svg", { class: "spark", width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}` });
  if (!values || !values.length) return s;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 2) { const mid = (hi + lo) / 2; lo = mid - 1; hi = mid + 1; }
  const pad = 4, n = values.length;
  const y = (v) => pad + (hi - Math.max(lo, Math.min(hi, v))) / (hi - lo) * (hgt - 2 * pad);
  const x = (i) => n === 1 ? w - pad : pad + (i * (w - 2 * pad)) / (n - 1);
  if (lo < 0 && hi > 0) s.append(svg("line", { class: "zero", x1: 0, x2: w, y1: y(0), y2: y(0), stroke: "#ccd", "stroke-dasharray": "2 2" }));
  const last = values[n - 1];
  if (n > 1) s.append(svg("polyline", { points: values.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "), stroke: sentColor(last) }));
  s.append(svg("circle", { cx: x(n - 1), cy: y(last), r: 2.5, fill: sentColor(last) }));
  const title = svg("title", {});
  title.textContent = t("spark.title", { count: n, first: fmtScore(values[0]), last: fmtScore(last) });
  s.append(title);
  return s;
}

// callHref links into the call view, optionally at a moment.
function callHref(id, extra) {
  let u = "/calls/" + encodeURIComponent(id);
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(extra || {})) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const qs = p.toString();
  return qs ? u + "?" + qs : u;
}

// localToISO turns a datetime-local value into RFC 3339.
function localToISO(v) {
  if (!v) return "";
  const d = new Date(v);
  return isNaN(d) ? "" : d.toISOString();
}

// showProblems lists a YAML file's problems (rules, forms) under the
// textarea #text, each at its line and column; a click selects the line.
function showProblems(problems) {
  const ul = clear($("problems"));
  for (const p of problems || []) {
    ul.append(h("li", { onclick: () => goLine(p.line) }, p.column ? t("rules.problem_at_col", { line: p.line, column: p.column, message: p.message }) : t("rules.problem_at", { line: p.line, message: p.message })));
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
