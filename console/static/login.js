// Logs in and goes to the queue; the session lives in an HttpOnly cookie the script never sees.
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/login", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: form.get("username"), password: form.get("password")}),
  });
  if (response.ok) { window.location = "/"; return; }
  const body = await response.json().catch(() => ({}));
  document.getElementById("login-error").textContent = body.error || "Could not log in";
});
