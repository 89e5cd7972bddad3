"use strict";
$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("error").textContent = "";
  const r = await api("/api/ui/login", {
    method: "POST", allowStatus: true, noRedirect: true,
    body: { name: $("name").value, password: $("password").value },
  });
  if (r.status !== 200) {
    $("error").textContent = r.data ? errText({ data: r.data, message: r.data.error }) : t("login.failed");
    return;
  }
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only a path on this site: not //host, nor /\host, which browsers read as //host.
  const local = /^\/(?![\/\\])/.test(next) && !next.startsWith("/login");
  location.href = local ? next : r.data.home;
});
