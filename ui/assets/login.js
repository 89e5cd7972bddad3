"use strict";
$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("error").textContent = "";
  const r = await api("/api/ui/login", {
    method: "POST", allowStatus: true, noRedirect: true,
    body: { name: $("name").value, password: $("password").value },
  });
  if (r.status !== 200) {
    $("error").textContent = (r.data && r.data.error) || "login failed";
    return;
  }
  const next = new URLSearchParams(location.search).get("next") || "";
  location.href = next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : r.data.home;
});
