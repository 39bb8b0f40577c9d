import { createHash } from "node:crypto";

/** A page's forms, as static HTML (no value from the request is ever written into it). */
export interface PageSpec {
  readonly page: "verify-email" | "reset-password" | "accept-invitation" | "forgot-password";
  readonly title: string;
  readonly lead: string;
  readonly forms: string;
}

/** Content-hashed asset names: cached for a year, never stale. */
export const assetName = (name: string, body: string): string => {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  const dot = name.lastIndexOf(".");
  return `${name.slice(0, dot)}.${hash}${name.slice(dot)}`;
};

export function renderPage(spec: PageSpec, assets: { js: string; css: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${spec.title} · Bulwark</title>
<link rel="stylesheet" href="/assets/${assets.css}">
<script type="module" src="/assets/${assets.js}"></script>
</head>
<body data-page="${spec.page}">
<main>
<h1>${spec.title}</h1>
<p class="lead">${spec.lead}</p>
<div id="result" role="status" aria-live="polite" tabindex="-1"></div>
${spec.forms}
<noscript><p>This page needs JavaScript to talk to the server.</p></noscript>
<footer><a href="/security">How we protect your account</a></footer>
</main>
</body>
</html>
`;
}

const field = (id: string, label: string, type: string, autocomplete: string, extra = ""): string =>
  `<label for="${id}">${label}</label><input id="${id}" name="${id}" type="${type}" autocomplete="${autocomplete}" required ${extra}>`;

export const PAGES: readonly PageSpec[] = [
  {
    page: "verify-email",
    title: "Confirm your email address",
    lead: "One click confirms that this address is yours.",
    forms: `<form id="verify"><button type="submit">Confirm my address</button></form>`,
  },
  {
    page: "reset-password",
    title: "Choose a new password",
    lead: "At least 12 characters; a passphrase of a few words is easiest to remember.",
    forms: `<form id="reset">${field("password", "New password", "password", "new-password", 'minlength="12" maxlength="256"')}${field("confirm", "Repeat it", "password", "new-password", 'minlength="12" maxlength="256"')}<button type="submit">Set the new password</button></form>`,
  },
  {
    page: "forgot-password",
    title: "Forgot your password?",
    lead: "We mail a link to choose a new one, if the address has an account.",
    forms: `<form id="forgot">${field("email", "Email", "email", "email")}<button type="submit">Mail me a link</button></form>`,
  },
  {
    page: "accept-invitation",
    title: "Join the organisation",
    lead: "You were invited by email. Accept with your account, or create one.",
    forms: `<form id="signed-in" hidden><h2>Signed in as <span id="who"></span></h2><button type="submit">Accept the invitation</button></form>
<form id="new-account"><h2>New here?</h2>${field("new-password", "Choose a password", "password", "new-password", 'minlength="12" maxlength="256"').replaceAll('name="new-password"', 'name="password"')}<button type="submit">Create my account and join</button></form>
<form id="sign-in"><h2>Already have an account?</h2>${field("email", "Email", "email", "email")}${field("password", "Password", "password", "current-password")}<div id="code-field" hidden>${field("code", "Authenticator code", "text", "one-time-code", 'inputmode="numeric"').replace(" required", "")}</div><button type="submit">Sign in and join</button></form>`,
  },
];
