"use strict";
// Users: roles, agent names, passwords and API tokens (admin only).
const ROLES = ["agent", "supervisor", "analyst", "admin"];

function status(t) { $("status").textContent = t; }

async function load() {
  const d = await api("/api/ui/users");
  const tb = clear($("users"));
  for (const u of d.users) {
    const role = h("select", {}, ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)));
    const agent = h("input", { value: u.agent || "", placeholder: u.name });
    const tokens = h("td", {}, u.tokens.map((t) => h("div", {}, t.id + " (" + fmtTime(t.created) + ") ",
      h("button", { class: "plain", onclick: () => act("DELETE", "/tokens/" + encodeURIComponent(t.id), u.name) }, "revoke"))));
    tb.append(h("tr", { "data-user": u.name }, h("td", {}, u.name), h("td", {}, role), h("td", {}, agent), tokens,
      h("td", {},
        h("button", { class: "plain", onclick: () => act("PUT", "", u.name, { role: role.value, agent: agent.value }) }, "save"), " ",
        h("button", { class: "plain", onclick: () => {
          const pw = prompt("New password for " + u.name + " (at least 10 characters)");
          if (pw) act("PUT", "", u.name, { password: pw });
        } }, "set password"), " ",
        h("button", { class: "plain", onclick: async () => {
          const r = await api("/api/ui/users/" + encodeURIComponent(u.name) + "/tokens", { method: "POST", body: {} });
          status("");
          $("status").append("New token for " + u.name + " (shown once): ", h("span", { class: "token" }, r.token));
          await loadQuiet();
        } }, "new token"), " ",
        h("button", { class: "danger", onclick: () => { if (confirm("Delete " + u.name + "?")) act("DELETE", "", u.name); } }, "delete"))));
  }
}

async function loadQuiet() { try { await load(); } catch (e) { status(e.message); } }

async function act(method, suffix, name, body) {
  try {
    await api("/api/ui/users/" + encodeURIComponent(name) + suffix, { method, body: body || {} });
    status("Done.");
  } catch (e) { status(e.message); }
  await loadQuiet();
}

start(async () => {
  await load();
  $("create").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/ui/users", { method: "POST", body: {
        name: $("new-name").value, role: $("new-role").value, agent: $("new-agent").value, password: $("new-password").value } });
      status("Created " + $("new-name").value + ".");
      $("create").reset();
    } catch (e) { status(e.message); }
    await loadQuiet();
  });
});
