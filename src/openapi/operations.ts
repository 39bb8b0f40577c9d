/**
 * What each of Bulwark's own operations does, for /openapi.json and /docs: a summary, a description, and
 * the error codes its handler raises beyond those its route-table row implies (responses.ts). Keyed like
 * the route table. A test fails when a core route has no entry, and extension routes bring their own
 * `summary` and `description` in their schema.
 */
export interface Operation {
  readonly summary: string;
  readonly description: string;
  /** Codes the handler raises, core or registered; each is documented under its own status (errors.ts). */
  readonly errors?: readonly string[];
  /** The media type of the success answer when it is not JSON. */
  readonly media?: string;
  /** A bearer token the handler itself accepts (beside anyone the handler lets through): its scheme. */
  readonly bearer?: "metricsToken";
}

const op = (summary: string, description: string, errors?: readonly string[], media?: string): Operation => ({
  summary,
  description,
  ...(errors ? { errors } : {}),
  ...(media ? { media } : {}),
});

const HTML = "text/html";
const TEXT = "text/plain";

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  "GET /health/live": op("Liveness", "Answers while the process can serve; never touches a dependency."),
  "GET /health": op(
    "Readiness",
    "Probes every dependency with its latency; 503 with the same report while a required one is down.",
  ),
  "GET /metrics": {
    ...op(
      "Prometheus metrics",
      "Request counts, latency histograms and error responses by code. In production: a direct loopback caller (no forwarding header), or the metrics token (`METRICS_TOKEN`) as a bearer token over HTTPS; never over plain HTTP.",
      ["METRICS_FORBIDDEN"],
      TEXT,
    ),
    bearer: "metricsToken",
  },
  "GET /security": op(
    "Security overview (HTML)",
    "The security page, generated from the running configuration.",
    undefined,
    HTML,
  ),
  "GET /security.json": op(
    "Security overview (JSON)",
    "Every control with its claim, its settings and whether it is on.",
  ),
  "GET /.well-known/security.txt": op(
    "security.txt",
    "RFC 9116 contact for vulnerability reports.",
    undefined,
    TEXT,
  ),
  "GET /openapi.json": op("OpenAPI document", "This document; /docs renders it."),
  // The console (src/console): one static page whose script talks to this API; documented so that what
  // each address answers is part of the published surface. Only the query parameters listed are accepted.
  "GET /": op(
    "Console: sign in",
    "The sign-in page (password, then a TOTP or backup code when the account has one); signed in, it leads to the portal.",
    undefined,
    HTML,
  ),
  "GET /signup": op("Console: sign up", "Creates an account (POST /v1/auth/signup).", undefined, HTML),
  "GET /verify-email": op(
    "Console: email verification",
    "The page the verification mail links to; a button posts the token to POST /v1/auth/verify-email.",
    undefined,
    HTML,
  ),
  "GET /reset-password": op(
    "Console: password reset",
    "The page the reset mail links to; it posts to POST /v1/auth/password/reset.",
    undefined,
    HTML,
  ),
  "GET /accept-invitation": op(
    "Console: invitation",
    "The page the invitation mail links to; it posts to POST /v1/invitations/accept.",
    undefined,
    HTML,
  ),
  "GET /authorize": op(
    "Console: an app's sign-in request",
    "Where the OpenID Connect provider sends the browser (`?uid=`): signed out, it leads to sign-in first; then it names the app, its organisation and what it asks for, and allows or declines it (GET /authorize/{uid}/details, POST …/allow, POST …/deny).",
    undefined,
    HTML,
  ),
  "GET /link-account": op(
    "Console: confirm linking an external identity",
    "Where external sign-in sends a person whose provider address already has an account here (`?token=`): signed in to that account, they see what would be linked and confirm it (GET /v1/me/identities/pending, POST /v1/me/identities/confirm).",
    undefined,
    HTML,
  ),
  "GET /forgot-password": op(
    "Console: forgotten password",
    "Asks for the address to send a reset link to (POST /v1/auth/password/forgot).",
    undefined,
    HTML,
  ),
  "GET /app": op(
    "Console: the portal",
    "The tenant portal (portal session): account, sessions, organisations, members, invitations, the example catalog. Its screens live below /app/.",
    undefined,
    HTML,
  ),
  "GET /admin": op(
    "Console: platform admin",
    "The platform console (admin session, its own sign-in): users, organisations, impersonation. Its screens live below /admin/.",
    undefined,
    HTML,
  ),
  "GET /favicon.ico": op("Icon", "The console's icon (SVG).", undefined, "image/svg+xml"),

  "POST /v1/auth/signup": op(
    "Sign up",
    "Creates an unverified account and mails a verification link. The answer is the same whether or not the address has an account.",
    ["SIGNUP_NOT_ALLOWED", "RATE_LIMITED"],
  ),
  "POST /v1/auth/verify-email": op(
    "Verify an email address",
    "Spends a verification token (single use, expiring).",
    ["TOKEN_INVALID"],
  ),
  "POST /v1/auth/verify-email/resend": op(
    "Resend the verification mail",
    "Mails a new link if the address has an unverified account; the answer never says which.",
  ),
  "POST /v1/auth/login": op(
    "Sign in",
    "Checks email and password. Answers a session cookie and CSRF token, or, with a second factor on, a challenge for POST /v1/auth/mfa/verify.",
    ["INVALID_CREDENTIALS", "EMAIL_NOT_VERIFIED"],
  ),
  "POST /v1/auth/mfa/verify": op("Second factor", "Completes a sign-in with a TOTP or backup code.", [
    "TOKEN_INVALID",
    "MFA_CODE_INVALID",
    "UNAUTHENTICATED",
  ]),
  "POST /v1/auth/mfa/passkey/options": op(
    "Start the passkey second-factor step",
    "After a password sign-in answered `mfaRequired` with `passkey` among its `methods`: options for `navigator.credentials.get` that name that account's passkeys, and the id of their challenge (once, five minutes).",
    ["TOKEN_INVALID"],
  ),
  "POST /v1/auth/mfa/passkey": op(
    "Second factor: a passkey",
    "Completes a password sign-in with one of the account's passkeys (user verification required). Limited like a code at this step, per address and per account (AUTH-7).",
    ["TOKEN_INVALID", "PASSKEY_REFUSED", "UNAUTHENTICATED"],
  ),
  "POST /v1/auth/logout": op(
    "Sign out",
    "Ends the current session and clears its cookie. The body may be left out.",
  ),
  "POST /v1/auth/token": op(
    "Access and refresh tokens",
    "Mints an access token (a JWT of ACCESS_TOKEN_TTL_MINUTES, ES256, for one organisation and the scopes asked for, each one your role there holds; all of them when none are asked for) and a refresh token (opaque, works once). The access token is sent as `Authorization: Bearer …` to the organisation's routes, without a cookie or CSRF token.",
    ["NOT_FOUND", "FORBIDDEN"],
  ),
  "POST /v1/auth/token/credentials": op(
    "Tokens from a password",
    "For a tool that holds no session (a command line, a script): the account's email and password, and its current two-factor code when it has one, for an access and refresh token pair in one organisation, exactly as POST /v1/auth/token mints them. The same limits as signing in (per client address for the password; per address and account for the code); a missing code is refused with MFA_CODE_REQUIRED only after the right password.",
    [
      "INVALID_CREDENTIALS",
      "EMAIL_NOT_VERIFIED",
      "MFA_CODE_REQUIRED",
      "MFA_CODE_INVALID",
      "NOT_FOUND",
      "FORBIDDEN",
    ],
  ),
  "POST /v1/auth/token/refresh": op(
    "Refresh the tokens",
    "Exchanges a refresh token for a new pair; the token presented is used up. Presenting a used one again revokes its whole family (reuse detection), and is audited. A family ends REFRESH_TOKEN_TTL_DAYS after its sign-in, however often it is refreshed.",
    ["REFRESH_TOKEN_INVALID"],
  ),
  "POST /v1/auth/token/revoke": op(
    "Revoke a refresh token",
    "Revokes the refresh token's whole family; an unknown or already revoked token answers the same.",
  ),
  "GET /.well-known/jwks.json": op(
    "Token signing keys",
    "A JWK Set (RFC 7517) of the ES256 keys access tokens are verified with: the one signing now, the next one (published before it signs) and retired ones for as long as a token they signed can be valid.",
  ),
  "GET /.well-known/openid-configuration": op(
    "OpenID Connect discovery",
    "The provider's metadata (OpenID Connect Discovery 1.0): its endpoints under /oidc/, the code flow only, PKCE S256, ES256 ID tokens. The provider's own endpoints speak OAuth 2.0 and OpenID Connect, with their errors in those protocols' terms.",
  ),
  "GET /.well-known/oauth-authorization-server": op(
    "OAuth 2.0 authorization server metadata",
    "The same document as /.well-known/openid-configuration, under RFC 8414's name.",
  ),
  "GET /authorize/:uid/details": op(
    "A sign-in request",
    "For the hosted sign-in page: the app (an organisation's OpenID Connect client), its organisation, the scopes asked for, whether the password must be proved again (the app asked for `prompt=login` or a `max_age`), and why this account cannot continue, if it cannot. Found only with the request's own cookie, in the browser that started it.",
    ["NOT_FOUND"],
  ),
  "POST /authorize/:uid/allow": op(
    "Allow a sign-in request",
    "Signs the person in to the app and grants the scopes it asked for; answers where the browser goes next (the provider, then the app). Only members of the app's organisation (enrolled in two-factor authentication when it requires it), with a fresh password proof when the app asked for one.",
    ["NOT_FOUND", "FORBIDDEN", "REAUTH_REQUIRED"],
  ),
  "POST /authorize/:uid/deny": op(
    "Decline a sign-in request",
    "The app receives `access_denied`; answers where the browser goes next.",
    ["NOT_FOUND"],
  ),
  "POST /v1/auth/passkey/options": op(
    "Start a passkey sign-in",
    "Options for `navigator.credentials.get` (no account named: the passkey says whose it is) and the id of their challenge, which works once, for five minutes.",
  ),
  "POST /v1/auth/passkey": op(
    "Sign in with a passkey",
    "The browser's answer to the options, with their challenge id: verified (this origin, this RP ID, user verification, a counter that moved on), it opens a portal session like a password sign-in. Counted per client address with the password attempts (AUTH-7).",
    ["PASSKEY_REFUSED"],
  ),
  "POST /v1/auth/password/forgot": op(
    "Forgotten password",
    "Mails a reset link if the address has an account; the answer never says which.",
  ),
  "POST /v1/auth/password/reset": op(
    "Reset the password",
    "Spends a reset token, sets the new password (it must meet the password policy) and signs the account out everywhere.",
    ["TOKEN_INVALID"],
  ),
  "POST /v1/auth/reauth": op(
    "Re-authenticate",
    "Proves the password again, opening sensitive operations for a few minutes (AUTH-14).",
    ["INVALID_CREDENTIALS"],
  ),

  "GET /v1/me": op("The signed-in user", "The user, the session and its CSRF token."),
  "GET /v1/auth/external": op(
    "External sign-in providers",
    "The OpenID Connect providers people can sign in with (SIGNIN_PROVIDERS): id and name, for the sign-in page's buttons.",
  ),
  "GET /v1/auth/external/:provider/start": op(
    "Sign in with an external provider",
    "A browser navigation: redirects (303) to the provider's authorization endpoint with PKCE S256, state and nonce; the state is also set in a cookie of this browser. `next` is the console path to end on.",
    ["NOT_FOUND", "SERVICE_UNAVAILABLE", "RATE_LIMITED"],
  ),
  "GET /v1/auth/external/:provider/callback": op(
    "External provider's answer",
    "Where the provider sends the browser back. Always answers with a redirect (303) into the console: the `next` path signed in; `/?step=…&methods=…` when the account has a second factor; `/link-account?token=…` when the address already has an account whose owner must confirm; `/?error=CODE` on any refusal. A provider that is not configured is a plain 404.",
    ["NOT_FOUND"],
  ),
  "GET /v1/me/identities": op(
    "Your linked external identities",
    "The provider, the address it asserted when linked, when linked and last used.",
  ),
  "GET /v1/me/identities/pending": op(
    "An identity waiting for your confirmation",
    "What a link confirmation (`token`) would add to this account: the provider and the address it asserted. Only for the account it names.",
    ["TOKEN_INVALID"],
  ),
  "POST /v1/me/identities/confirm": op(
    "Confirm linking an external identity",
    "Links the pending identity to this account (the owner, signed in and re-authenticated, confirms: never silently); mailed to the owner.",
    ["TOKEN_INVALID", "EXTERNAL_IDENTITY_TAKEN", "REAUTH_REQUIRED"],
  ),
  "POST /v1/me/identities/:provider": op(
    "Link an external identity",
    "Answers the provider's authorization URL for the console to navigate to; the identity is linked when the provider sends the browser back (mailed to the owner).",
    ["NOT_FOUND", "REAUTH_REQUIRED", "SERVICE_UNAVAILABLE"],
  ),
  "DELETE /v1/me/identities/:id": op(
    "Remove a linked identity",
    "Needs a fresh password proof; refused when it is the account's only way in (no password, no passkey).",
    ["NOT_FOUND", "CONFLICT", "REAUTH_REQUIRED"],
  ),
  "GET /v1/me/passkeys": op(
    "Your passkeys",
    "Name, kind (synced or not), when added and last used; never a key.",
  ),
  "POST /v1/me/passkeys/options": op(
    "Start adding a passkey",
    "Options for `navigator.credentials.create` (discoverable, user verification required, your existing passkeys excluded) and the id of their challenge. Needs your password proved within REAUTH_MINUTES. At most 20 passkeys (422).",
    ["UNPROCESSABLE"],
  ),
  "POST /v1/me/passkeys": op(
    "Add a passkey",
    "The browser's answer to the options, with their challenge id and a name: verified (this origin and RP ID, user verification), its public key is stored. Needs your password proved within REAUTH_MINUTES.",
    ["PASSKEY_REFUSED", "CONFLICT"],
  ),
  "PATCH /v1/me/passkeys/:id": op("Rename a passkey", "Only its name changes.", ["NOT_FOUND"]),
  "DELETE /v1/me/passkeys/:id": op(
    "Remove a passkey",
    "It signs in nowhere from now on. Needs your password proved within REAUTH_MINUTES.",
    ["NOT_FOUND"],
  ),
  "GET /v1/me/sessions": op("My sessions", "Every live session of the account, an impersonation marked."),
  "DELETE /v1/me/sessions/:id": op("End a session", "Ends one of the account's sessions.", ["NOT_FOUND"]),
  "DELETE /v1/me/sessions": op("End other sessions", "Ends every session of the account except this one."),
  "POST /v1/me/export": op(
    "Export your personal data",
    "Every row of every table that names the account, as one JSON file (GDPR-1): secrets and their hashes withheld and listed, other people replaced by a placeholder. Rate-limited like exports, audited, refused while impersonated.",
  ),
  "GET /v1/me/deletion": op(
    "Your account's deletion",
    "Whether a deletion of the account is pending (GDPR-2), since when, and when it will be erased.",
  ),
  "POST /v1/me/deletion": op(
    "Delete your account",
    "Asks for the account's erasure (GDPR-2): it happens DELETION_COOLING_OFF_DAYS later unless cancelled. Needs your password proved within REAUTH_MINUTES. Refused (409) while you are the only owner of an organisation with other members. Asking again answers the pending request. Audited; refused while impersonated.",
    ["REAUTH_REQUIRED", "LAST_OWNER"],
  ),
  "DELETE /v1/me/deletion": op(
    "Cancel your account's deletion",
    "Cancels the pending deletion; nothing of the account was erased. Refused (409) once the erasure job has begun. Audited; refused while impersonated.",
    ["NOT_FOUND", "CONFLICT"],
  ),
  "POST /v1/me/password": op(
    "Change the password",
    "Checks the current password, sets the new one (it must meet the password policy), ends the other sessions and voids outstanding reset links.",
    ["INVALID_CREDENTIALS"],
  ),
  "POST /v1/me/mfa/totp": op(
    "Start TOTP enrolment",
    "Behind the password: a new secret, its otpauth URI and QR code.",
    ["INVALID_CREDENTIALS", "MFA_ALREADY_ENABLED"],
  ),
  "POST /v1/me/mfa/totp/confirm": op(
    "Confirm TOTP enrolment",
    "A first code turns two-factor on and returns ten single-use backup codes, shown once.",
    ["MFA_ENROLMENT_NOT_STARTED", "MFA_CODE_INVALID"],
  ),
  "DELETE /v1/me/mfa/totp": op("Turn TOTP off", "Needs the password and a current code (TOTP or backup).", [
    "INVALID_CREDENTIALS",
    "MFA_CODE_INVALID",
  ]),
  "POST /v1/me/mfa/backup-codes": op(
    "New backup codes",
    "Needs the password and a current second factor; replaces every backup code.",
    ["INVALID_CREDENTIALS", "MFA_NOT_ENABLED", "MFA_CODE_INVALID"],
  ),

  "POST /v1/orgs": op("Create an organisation", "The caller becomes its first OWNER.", ["SLUG_TAKEN"]),
  "GET /v1/orgs": op("My organisations", "Every organisation the caller is a member of, with the role."),
  "GET /v1/orgs/:orgId": op("An organisation", "Its name, slug and settings."),
  "PATCH /v1/orgs/:orgId": op(
    "Change an organisation",
    "Its name, or requiring two-factor of every member (the caller needs it on first).",
  ),
  "GET /v1/orgs/:orgId/members": op("Members", "Every member with their role."),
  "PATCH /v1/orgs/:orgId/members/:userId": op(
    "Change a role",
    "Only an OWNER grants or changes OWNER; one always remains.",
    ["OWNER_REQUIRED", "LAST_OWNER"],
  ),
  "DELETE /v1/orgs/:orgId/members/:userId": op(
    "Remove a member, or leave",
    "Any member may leave; removing someone else needs members:remove.",
    ["OWNER_REQUIRED", "LAST_OWNER"],
  ),
  "POST /v1/orgs/:orgId/invitations": op(
    "Invite",
    "Mails a single-use link bound to the address. Limited per organisation, sender and recipient.",
    ["OWNER_REQUIRED", "SIGNUP_NOT_ALLOWED", "RATE_LIMITED"],
  ),
  "GET /v1/orgs/:orgId/invitations": op(
    "Pending invitations",
    "Invitations not yet accepted, revoked or expired.",
  ),
  "DELETE /v1/orgs/:orgId/invitations/:id": op("Revoke an invitation", "Its link stops working."),
  "POST /v1/orgs/:orgId/invitations/:id/resend": op(
    "Resend an invitation",
    "A fresh link and expiry; the old link stops working. At most 3 an hour.",
    ["RATE_LIMITED"],
  ),
  "GET /v1/orgs/:orgId/audit-events/export": op(
    "Export the organisation's audit log",
    "Owners and admins, or an API key holding audit:read; its own rate tier (export). Streams the log oldest first: `ndjson` (one stored entry per line; an empty log is an empty body), `csv` (the columns of docs/audit.md; text/csv), or `bundle` (entries, leaf hashes, signed checkpoints and keys, NDJSON: what `bulwark audit verify --bundle` checks offline; filters do not apply).",
    undefined,
    "application/x-ndjson",
  ),
  "GET /v1/orgs/:orgId/api-keys": op(
    "API keys",
    "The organisation's keys, newest first, with their status (active, grace, revoked, expired) and last use; never the keys themselves. `scopes` lists what the caller may grant.",
  ),
  "POST /v1/orgs/:orgId/api-keys": op(
    "Create an API key",
    "A key with the given scopes (only actions the caller's role holds), optional expiry, allowed origins and IP/CIDR allowlist. The answer carries the key itself, once: only its SHA-256 is kept.",
  ),
  "POST /v1/orgs/:orgId/api-keys/:id/rotate": op(
    "Rotate an API key",
    "A new key with the same settings, working at once; the old one keeps working for `gracePeriodSeconds` (never past its own expiry; 0 revokes it now). A key is rotated once.",
    ["CONFLICT"],
  ),
  "DELETE /v1/orgs/:orgId/api-keys/:id": op(
    "Revoke an API key",
    "Refused from the next request on, on every node; ends a rotation's grace period too.",
  ),
  "POST /v1/orgs/:orgId/uploads": op(
    "A link to upload a file to",
    "Returns a pre-signed URL (DATA-3) that accepts one PUT of exactly `size` bytes with the announced Content-Type, under the organisation's own storage prefix, for UPLOAD_URL_TTL_SECONDS. Send the body there, not here: the API never carries it. Types outside UPLOAD_CONTENT_TYPES and sizes over UPLOAD_MAX_BYTES are refused (422); the bytes count against the organisation's `upload_bytes` quota when QUOTAS sets one (429). Then attach the upload by id (a product's `imageUploadId`).",
    ["UPLOAD_NOT_ALLOWED", "QUOTA_EXCEEDED"],
  ),
  "GET /v1/orgs/:orgId/uploads/:id": op(
    "An upload",
    "Whether its file has arrived in the store (`uploaded`, with the announced size and type) and whether something uses it (`attached`).",
    ["NOT_FOUND"],
  ),
  "PUT /v1/storage/orgs/:orgId/:id": op(
    "Upload a file through a signed link (local store)",
    "Only with a link from `POST /v1/orgs/{orgId}/uploads` (when no S3 bucket is configured), before it expires, with exactly its Content-Type and Content-Length; the body is streamed to disk and kept only when exactly that many bytes arrived. The link's signature is the credential.",
    ["UPLOAD_LINK_INVALID", "UNSUPPORTED_MEDIA_TYPE", "LENGTH_REQUIRED", "PAYLOAD_TOO_LARGE"],
  ),
  "GET /v1/storage/orgs/:orgId/:id": op(
    "Read a file through a signed link (local store)",
    "Only with a download link Bulwark gave out (a product's `imageUrl`), before it expires; served as the signed type, with a sandboxing Content-Security-Policy.",
    ["UPLOAD_LINK_INVALID", "NOT_FOUND"],
    "application/octet-stream",
  ),
  "GET /v1/orgs/:orgId/webhook-endpoints": op(
    "List webhook endpoints",
    "Every endpoint of the organisation with its event filter, state and circuit breaker (HOOK-5). Secrets are never shown again.",
  ),
  "POST /v1/orgs/:orgId/webhook-endpoints": op(
    "Create a webhook endpoint",
    "The URL must be https (http outside production) and resolve to public addresses only (HOOK-7); it is checked again whenever a connection to it opens. Answers with the signing secret (`whsec_…`), shown this once. At most 50 endpoints per organisation (422).",
    ["VALIDATION_FAILED", "UNPROCESSABLE"],
  ),
  "PATCH /v1/orgs/:orgId/webhook-endpoints/:id": op(
    "Change a webhook endpoint",
    "URL, description, event filter, legacy signature, enabled. Enabling an endpoint closes its breaker and forgets its failures.",
    ["NOT_FOUND", "VALIDATION_FAILED"],
  ),
  "DELETE /v1/orgs/:orgId/webhook-endpoints/:id": op(
    "Delete a webhook endpoint",
    "Its pending deliveries are dead-lettered when their turn comes.",
    ["NOT_FOUND"],
  ),
  "POST /v1/orgs/:orgId/webhook-endpoints/:id/rotate-secret": op(
    "Rotate an endpoint's secret",
    "The new secret (shown this once) signs from now on; the previous one signs beside it for WEBHOOK_SECRET_GRACE_DAYS (HOOK-2).",
    ["NOT_FOUND"],
  ),
  "POST /v1/orgs/:orgId/webhook-endpoints/:id/test": op(
    "Send a test event",
    "Queues a `webhook.test` event for this endpoint alone, whatever its filter; follow it in its deliveries. 409 when the endpoint is disabled.",
    ["NOT_FOUND", "CONFLICT"],
  ),
  "GET /v1/orgs/:orgId/oidc-clients": op(
    "List OpenID Connect clients",
    "The organisation's apps that sign its members in through Bulwark (AUTH-10). Secrets are never shown again.",
  ),
  "GET /v1/orgs/:orgId/oidc-clients/:id": op(
    "An OpenID Connect client",
    "Its type and exact redirect URIs.",
    ["NOT_FOUND"],
  ),
  "POST /v1/orgs/:orgId/oidc-clients": op(
    "Register an OpenID Connect client",
    "`confidential` for a server (answers with its secret, `ocs_…`, shown this once and stored as its SHA-256), `public` for a browser or native app (PKCE alone). Redirect URIs are exact: HTTPS, or HTTP to localhost, 127.0.0.1 or [::1]; no fragment. At most 50 clients per organisation (422).",
    ["VALIDATION_FAILED", "UNPROCESSABLE"],
  ),
  "PATCH /v1/orgs/:orgId/oidc-clients/:id": op(
    "Change an OpenID Connect client",
    "Its name, redirect URIs or sign-out addresses; takes effect at the client's next request.",
    ["NOT_FOUND", "VALIDATION_FAILED", "UNPROCESSABLE"],
  ),
  "POST /v1/orgs/:orgId/oidc-clients/:id/rotate-secret": op(
    "Rotate a client's secret",
    "A new secret, shown this once; the old one stops working at once. A public client has none (422).",
    ["NOT_FOUND", "UNPROCESSABLE"],
  ),
  "DELETE /v1/orgs/:orgId/oidc-clients/:id": op(
    "Delete an OpenID Connect client",
    "Its tokens stop working at their next use.",
    ["NOT_FOUND"],
  ),
  "GET /v1/orgs/:orgId/webhook-deliveries": op(
    "List webhook deliveries",
    "Newest first; filter by endpoint or status (`dead` lists the dead letters).",
  ),
  "GET /v1/orgs/:orgId/webhook-deliveries/:id": op(
    "A delivery and its attempts",
    "Every attempt with its time, duration, status, error and the first 4 KB of the answer (HOOK-3).",
    ["NOT_FOUND"],
  ),
  "POST /v1/orgs/:orgId/webhook-deliveries/:id/replay": op(
    "Replay a delivery",
    "Sends a succeeded or dead-lettered delivery again, with the same webhook-id, from the first step of the retry schedule. 409 while it is still on its way, or when its endpoint is disabled or deleted.",
    ["NOT_FOUND", "CONFLICT"],
  ),
  "POST /v1/orgs/:orgId/webhook-messages": op(
    "Send an event to webhooks",
    "An app's own event (an API key holding `webhooks:write`), delivered signed to every endpoint taking its type. Bulwark's own event types (org., member., apikey., …) are refused.",
    ["UNPROCESSABLE"],
  ),
  "GET /v1/orgs/:orgId/usage": op(
    "Usage this month",
    "Each metered unit with an allowance (QUOTAS, or an admin's for this organisation): used this UTC month, the allowance and whether past it is refused or only announced.",
  ),
  "POST /v1/orgs/:orgId/usage": op(
    "Record usage",
    "Adds `quantity` of one of the app's own metered units (an API key holding `usage:record`). Past a `refuse` allowance the answer is 429 QUOTA_EXCEEDED and nothing is counted; owners and admins are mailed at 80 % and 100 %, once each per month.",
    ["QUOTA_EXCEEDED"],
  ),
  "GET /v1/admin/orgs/:orgId/usage": op(
    "An organisation's usage",
    "The organisation's usage this month, as its members see it.",
    ["NOT_FOUND"],
  ),
  "PUT /v1/admin/orgs/:orgId/quotas/:unit": op(
    "Set an organisation's allowance",
    "Replaces the configured monthly allowance of `unit` for this organisation (0 refuses all use with `refuse`); takes effect within 30 seconds on every node.",
    ["NOT_FOUND"],
  ),
  "POST /v1/invitations/accept": op(
    "Accept an invitation",
    "Signed in as the invited address, or by choosing a password (which creates the account, under the sign-up rules and the password policy, and signs it in).",
    ["TOKEN_INVALID", "UNAUTHENTICATED", "INVITATION_EMAIL_MISMATCH", "SIGNUP_NOT_ALLOWED", "ACCOUNT_EXISTS"],
  ),

  "POST /v1/admin/auth/login": op(
    "Platform admin sign-in",
    "Password and TOTP code; any wrong part answers INVALID_CREDENTIALS.",
    ["INVALID_CREDENTIALS"],
  ),
  "POST /v1/admin/auth/logout": op("Platform admin sign-out", "Ends the admin session."),
  "GET /v1/admin/users": op("Users", "Every account, by id, with cursor pagination."),
  "GET /v1/admin/orgs": op("Organisations", "Every organisation with its member count."),
  "POST /v1/admin/impersonations": op(
    "Act as a user",
    "With a stated reason, for at most 60 minutes: opens a portal session for the user (its cookie and CSRF token), and every response then names the admin.",
    ["NOT_FOUND"],
  ),
  "DELETE /v1/admin/impersonations/current": op(
    "Stop acting as a user",
    "Ends every impersonation this admin opened; 404 when there is none.",
    ["NOT_FOUND"],
  ),
};
