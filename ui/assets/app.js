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
  if (ME.can.board) nav.append(link("/", "Live board"));
  if (ME.can.search) nav.append(link("/search", "Search"));
  if (ME.can.rules) nav.append(link("/rules", "Rules"));
  if (ME.can.users) nav.append(link("/users", "Users"));
  nav.append(h("span", { class: "who" }, ME.name + " · " + ME.role));
  nav.append(h("button", { id: "password-change", onclick: changePassword }, "Password"));
  nav.append(h("button", { id: "logout", onclick: async () => {
    await api("/api/ui/logout", { method: "POST", body: {} });
    location.href = "/login";
  } }, "Log out"));
  try { await main(); } catch (e) { showError(e); }
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
    } catch (e) { msg.textContent = e.message; }
  } },
    h("h2", {}, "Change your password"),
    h("label", {}, "Current password", old),
    h("label", {}, "New password (at least 10 characters)", pw),
    msg,
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Change"),
      h("button", { type: "button", class: "plain", onclick: () => { dlg.close(); dlg.remove(); } }, "Cancel")));
  dlg.append(form);
  document.body.append(dlg);
  dlg.showModal();
}

function showError(e) {
  const el = $("error") || $("notice") || $("status");
  if (el) { el.hidden = false; el.textContent = String(e.message || e); }
}

// fmtMS is a call-clock time: m:ss.
function fmtMS(ms) {
  ms = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(ms / 3600), m = Math.floor(ms / 60) % 60, s = ms % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss;
}

function fmtTime(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleString();
}

function sentClass(score) { return score > 0.5 ? "pos" : score < -0.5 ? "neg" : "neu"; }

function fmtScore(x) { return (x > 0 ? "+" : "") + Number(x || 0).toFixed(1); }

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

// sparkline draws scores (-5..+5) as a small line.
function sparkline(values, w, hgt) {
  w = w || 80; hgt = hgt || 20;
  const s = svg("svg", { class: "spark", width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}` });
  s.append(svg("line", { x1: 0, x2: w, y1: hgt / 2, y2: hgt / 2, stroke: "#ddd" }));
  if (values && values.length) {
    const n = values.length;
    const pts = values.map((v, i) => {
      const x = n === 1 ? w / 2 : (i * (w - 2)) / (n - 1) + 1;
      const y = hgt / 2 - (Math.max(-5, Math.min(5, v)) / 5) * (hgt / 2 - 1);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const last = values[n - 1];
    s.append(svg("polyline", { points: pts.join(" "), stroke: last > 0.5 ? "#1a7f37" : last < -0.5 ? "#c62828" : "#8a8f98" }));
  }
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
