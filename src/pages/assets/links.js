// The pages mail links open (verify, reset, accept an invitation). Plain DOM, no framework: it reads the
// token from the address bar (never from the HTML), calls Bulwark's JSON API on the same origin, and
// shows the outcome. Loaded under `script-src 'self'`: no inline script anywhere.
const TOKEN = /^bw[a-z]_[A-Za-z0-9_-]{20,200}$/;
const ORG = /^org_[0-9A-Z]{26}$/;
const params = new URLSearchParams(location.search);
const token = params.get("token") ?? "";
const orgId = params.get("orgId") ?? params.get("org") ?? "";
const result = document.getElementById("result");
let csrf = "";

function show(message, ok) {
  result.textContent = message;
  result.className = ok ? "ok" : "bad";
  result.focus();
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body) headers["content-type"] = "application/json";
  if (csrf && method !== "GET") headers["x-csrf-token"] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (json.csrfToken) csrf = json.csrfToken;
  return { ok: res.ok, status: res.status, json };
}

const failure = (r) => r.json?.error?.message ?? `The request failed (${r.status}).`;

/** Runs a form's action with its button disabled meanwhile. */
function onSubmit(id, action) {
  const form = document.getElementById(id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await action(new FormData(form));
    } catch {
      show("The server could not be reached; try again.", false);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function done(message) {
  for (const f of document.querySelectorAll("form")) f.hidden = true;
  show(message, true);
}

const page = document.body.dataset.page;
if (page === "forgot-password") {
  onSubmit("forgot", async (data) => {
    const r = await api("POST", "/v1/auth/password/forgot", { email: String(data.get("email")) });
    if (r.ok) done("If that address has an account, a link is on its way. It works once, for a short time.");
    else show(failure(r), false);
  });
} else if (!TOKEN.test(token) || (page === "accept-invitation" && !ORG.test(orgId))) {
  for (const f of document.querySelectorAll("form")) f.hidden = true;
  show("This link is incomplete. Open it again from the mail, or copy the whole address.", false);
} else if (page === "verify-email") {
  onSubmit("verify", async () => {
    const r = await api("POST", "/v1/auth/verify-email", { token });
    if (r.ok) done(`Your address ${r.json.user.email} is confirmed. You can sign in now.`);
    else show(failure(r), false);
  });
} else if (page === "reset-password") {
  onSubmit("reset", async (data) => {
    const password = String(data.get("password"));
    if (password !== String(data.get("confirm"))) return show("The two passwords differ.", false);
    const r = await api("POST", "/v1/auth/password/reset", { token, password });
    if (r.ok) done("Your password is changed, and every session of the account has been signed out.");
    else
      show(
        r.json?.error?.details?.[0]?.message
          ? `The password ${r.json.error.details[0].message}.`
          : failure(r),
        false,
      );
  });
} else if (page === "accept-invitation") {
  const accept = async (extra) => {
    const r = await api("POST", "/v1/invitations/accept", { orgId, token, ...extra });
    if (r.ok) done(`You joined the organisation as ${r.json.org.role}.`);
    else show(failure(r), false);
  };
  const signedIn = document.getElementById("signed-in");
  api("GET", "/v1/me").then((me) => {
    if (!me.ok) return;
    document.getElementById("who").textContent = me.json.user.email;
    for (const f of document.querySelectorAll("form")) f.hidden = f !== signedIn;
  });
  onSubmit("signed-in", () => accept({}));
  onSubmit("new-account", (data) => accept({ password: String(data.get("password")) }));
  const signIn = onSubmit("sign-in", async (data) => {
    const code = String(data.get("code") ?? "");
    const r = signIn.dataset.challenge
      ? await api("POST", "/v1/auth/mfa/verify", { challengeToken: signIn.dataset.challenge, code })
      : await api("POST", "/v1/auth/login", {
          email: String(data.get("email")),
          password: String(data.get("password")),
        });
    if (!r.ok) return show(failure(r), false);
    if (r.json.mfaRequired) {
      signIn.dataset.challenge = r.json.challengeToken;
      document.getElementById("code-field").hidden = false;
      document.getElementById("code").focus();
      return show("Enter the code from your authenticator app.", true);
    }
    await accept({});
  });
}
