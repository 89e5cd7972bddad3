"use strict";
// Users: roles, agent names, languages, passwords and API tokens (admin only).
const ROLES = ["agent", "supervisor", "analyst", "admin"];

function status(text) { $("status").textContent = text; }

async function load() {
  const d = await api("/api/ui/users");
  const tb = clear($("users"));
  for (const u of d.users) {
    const role = h("select", { class: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === u.role }, roleName(r))));
    const agent = h("input", { value: u.agent || "", placeholder: u.name });
    const lang = languageSelect(u.language || "", null, { "data-testid": "user-language" });
    const tokens = h("td", {}, u.tokens.map((tk) => h("div", {}, t("users.token", { id: tk.id, created: fmtTime(tk.created) }), " ",
      h("button", { class: "plain", onclick: () => act("DELETE", "/tokens/" + encodeURIComponent(tk.id), u.name) }, t("users.revoke")))));
    tb.append(h("tr", { "data-user": u.name }, h("td", {}, u.name), h("td", {}, role), h("td", {}, agent), h("td", {}, lang), tokens,
      h("td", { class: "actions" },
        h("button", { class: "plain", onclick: () => act("PUT", "", u.name, { role: role.value, agent: agent.value, language: lang.value }) }, t("users.save")),
        h("button", { class: "plain", onclick: () => {
          const pw = prompt(t("users.password_prompt", { name: u.name, min: 10 }));
          if (pw) act("PUT", "", u.name, { password: pw });
        } }, t("users.set_password")),
        h("button", { class: "plain", onclick: async () => {
          const r = await api("/api/ui/users/" + encodeURIComponent(u.name) + "/tokens", { method: "POST", body: {} });
          status(t("users.new_token", { name: u.name }));
          $("status").append(" ", h("span", { class: "token" }, r.token));
          await loadQuiet();
        } }, t("users.new_token_button")),
        h("button", { class: "danger", onclick: () => { if (confirm(t("users.confirm_delete", { name: u.name }))) act("DELETE", "", u.name); } }, t("users.delete")))));
  }
}

async function loadQuiet() { try { await load(); } catch (e) { status(errText(e)); } }

async function act(method, suffix, name, body) {
  try {
    await api("/api/ui/users/" + encodeURIComponent(name) + suffix, { method, body: body || {} });
    status(t("users.done"));
  } catch (e) { status(errText(e)); }
  await loadQuiet();
}

start(async () => {
  await load();
  $("create").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/ui/users", { method: "POST", body: {
        name: $("new-name").value, role: $("new-role").value, agent: $("new-agent").value,
        language: $("new-language").value, password: $("new-password").value } });
      status(t("users.created", { name: $("new-name").value }));
      $("create").reset();
    } catch (e) { status(errText(e)); }
    await loadQuiet();
  });
});
