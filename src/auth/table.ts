import type { PrincipalKind } from "./principal.js";
import {
  ADMIN,
  AUTH_SURFACE,
  type EffectiveSecurity,
  member,
  PROBE,
  PUBLIC,
  problemsOf,
  type RouteSecurity,
  tenant,
  USER,
  USER_CREDENTIALS,
} from "./requirements.js";

/**
 * The route table: what every one of Bulwark's own routes requires, in one place, read top to bottom like
 * oidc-provider's check matrix. The guard pipeline enforces exactly these rows; a route that has no row
 * (here, declared by an extension through the tenant router, or inline as `config.security`) cannot start.
 * docs/routes.md renders the whole table, including extensions', and a test keeps it current.
 */
export const CORE_ROUTES: Readonly<Record<string, RouteSecurity>> = {
  // Probes and public documents
  "GET /health/live": PROBE,
  "GET /health": PROBE,
  "GET /metrics": PROBE,
  "GET /security": PUBLIC,
  "GET /security.json": PUBLIC,
  "GET /security/sbom.json": PUBLIC,
  "GET /security/evidence.json": PUBLIC,
  "GET /security/oscal/component-definition.json": PUBLIC,
  "GET /security/oscal/assessment-results.json": PUBLIC,
  "GET /.well-known/security.txt": PUBLIC,
  "GET /.well-known/audit-keys.json": PUBLIC,
  "GET /.well-known/jwks.json": PUBLIC,
  "GET /openapi.json": PUBLIC,
  "GET /docs*": PUBLIC,
  "OPTIONS /*": { ...PUBLIC, rate: "none" },
  // The console's pages declare their own exact rows (src/console/capability.ts, CONSOLE_PAGES): public,
  // static shells; what they show comes from the API, under that API's own rows.
  "GET /assets*": { ...PUBLIC, rate: "none" },
  "GET /favicon.ico": { ...PUBLIC, rate: "none" },

  // Sign-up, sign-in and recovery (AUTH-3, AUTH-4, AUTH-7, AUTH-8)
  "POST /v1/auth/signup": AUTH_SURFACE,
  "POST /v1/auth/verify-email": AUTH_SURFACE,
  "POST /v1/auth/verify-email/resend": AUTH_SURFACE,
  "POST /v1/auth/login": AUTH_SURFACE,
  "POST /v1/auth/mfa/verify": AUTH_SURFACE,
  "GET /v1/auth/external": PUBLIC,
  "GET /v1/auth/external/:provider/start": AUTH_SURFACE,
  "GET /v1/auth/external/:provider/callback": AUTH_SURFACE,
  "POST /v1/auth/mfa/passkey/options": AUTH_SURFACE,
  "POST /v1/auth/mfa/passkey": AUTH_SURFACE,
  "POST /v1/auth/passkey/options": AUTH_SURFACE,
  "POST /v1/auth/passkey": AUTH_SURFACE,
  "POST /v1/auth/password/forgot": AUTH_SURFACE,
  "POST /v1/auth/password/reset": AUTH_SURFACE,
  "POST /v1/auth/logout": USER,
  "POST /v1/auth/reauth": { ...USER_CREDENTIALS, rate: "auth" },
  // Access and refresh tokens (AUTH-9): minted from the user's own session, never an impersonation.
  // General tier: per user for minting, per client address for refresh and revocation.
  "POST /v1/auth/token": { ...USER, impersonation: "refuse" },
  // Password and second factor in one request (a tool without a session): the sign-in's own limiters.
  "POST /v1/auth/token/credentials": AUTH_SURFACE,
  "POST /v1/auth/token/refresh": PUBLIC,
  "POST /v1/auth/token/revoke": PUBLIC,
  // The OpenID Connect provider (AUTH-10): its own protocol checks (client authentication, PKCE, tokens)
  // behind the general limits; the hosted sign-in page's JSON under the page's path (its cookie's scope).
  "GET /.well-known/openid-configuration": PUBLIC,
  "GET /.well-known/oauth-authorization-server": PUBLIC,
  // CORS "public" lets browser apps' requests through to the provider, which answers CORS per client.
  "GET /oidc/*": { ...PUBLIC, cors: "public" },
  "POST /oidc/*": { ...PUBLIC, cors: "public" },
  "OPTIONS /oidc/*": { ...PUBLIC, cors: "public" },
  "GET /authorize/:uid/details": { ...USER, impersonation: "refuse" },
  "POST /authorize/:uid/allow": { ...USER, impersonation: "refuse" },
  "POST /authorize/:uid/deny": { ...USER, impersonation: "refuse" },

  // The signed-in user (AUTH-5, AUTH-8, AUTH-14)
  "GET /v1/me": USER,
  // A name outlives an impersonation: the user's own, never the admin's to change (AUTHZ-4).
  "PATCH /v1/me": { ...USER, impersonation: "refuse" },
  "GET /v1/auth/session": { ...USER, optional: true },
  "GET /v1/me/mfa": USER,
  "GET /v1/me/sessions": USER,
  // Ending the user's own sessions could lock them out: not while impersonated (AUTHZ-4).
  "DELETE /v1/me/sessions/:id": { ...USER, impersonation: "refuse" },
  "DELETE /v1/me/sessions": { ...USER, impersonation: "refuse" },
  "POST /v1/me/password": USER_CREDENTIALS,
  // GDPR-1: the account's own data, not an impersonating admin's to take; limited like other exports.
  "POST /v1/me/export": { ...USER, impersonation: "refuse", rate: "export" },
  // GDPR-2: deleting the account needs a fresh password proof; only the user may ask or cancel.
  "GET /v1/me/deletion": USER,
  "POST /v1/me/deletion": { ...USER_CREDENTIALS, reauth: true },
  "DELETE /v1/me/deletion": USER_CREDENTIALS,
  "POST /v1/me/mfa/totp": USER_CREDENTIALS,
  "POST /v1/me/mfa/totp/confirm": { ...USER_CREDENTIALS, reauth: true },
  "DELETE /v1/me/mfa/totp": USER_CREDENTIALS,
  "POST /v1/me/mfa/backup-codes": USER_CREDENTIALS,
  // Passkeys (AUTH-13, AUTH-14): adding or removing one needs a fresh password proof.
  "GET /v1/me/passkeys": USER,
  // Adding a passkey needs the password typed in the options request (a second factor, like TOTP's).
  "POST /v1/me/passkeys/options": USER_CREDENTIALS,
  "POST /v1/me/passkeys": USER_CREDENTIALS,
  "PATCH /v1/me/passkeys/:id": USER_CREDENTIALS,
  "DELETE /v1/me/passkeys/:id": { ...USER_CREDENTIALS, reauth: true },
  // Linked external identities (AUTH-11): each signs in alone, so adding or removing one is sensitive.
  "GET /v1/me/identities": USER,
  "GET /v1/me/identities/pending": USER,
  "POST /v1/me/identities/confirm": { ...USER_CREDENTIALS, reauth: true },
  "POST /v1/me/identities/:provider": { ...USER_CREDENTIALS, reauth: true },
  "DELETE /v1/me/identities/:id": { ...USER_CREDENTIALS, reauth: true },

  // Organisations (AUTHZ-1, AUTHZ-2, AUTHZ-5)
  "POST /v1/orgs": USER,
  "GET /v1/orgs": USER,
  "GET /v1/orgs/:orgId": tenant("org:read"),
  // Settings, memberships and invitations follow owner rules that name a person: members only.
  "PATCH /v1/orgs/:orgId": member("org:update"),
  "GET /v1/orgs/:orgId/members": tenant("members:read"),
  // Who belongs to an organisation, and with what role, outlives an impersonation: never while impersonated
  // (AUTHZ-4), or an admin could invite themselves as OWNER "from" the user.
  "PATCH /v1/orgs/:orgId/members/:userId": member("members:update", { impersonation: "refuse" }),
  // Any member may leave; removing someone else also needs members:remove (checked by the service).
  "DELETE /v1/orgs/:orgId/members/:userId": member("members:read", { impersonation: "refuse" }),
  "POST /v1/orgs/:orgId/invitations": member("members:invite", { impersonation: "refuse" }),
  "GET /v1/orgs/:orgId/invitations": tenant("members:invite"),
  "DELETE /v1/orgs/:orgId/invitations/:id": member("members:invite", { impersonation: "refuse" }),
  "POST /v1/orgs/:orgId/invitations/:id/resend": member("members:invite", { impersonation: "refuse" }),
  // API keys (KEY-1…KEY-7): managed by members only, never by a key; minting a credential outlives an
  // impersonation, so not while impersonated (AUTHZ-4). Revoking one stays open to support staff.
  "GET /v1/orgs/:orgId/api-keys": member("apikeys:manage"),
  "POST /v1/orgs/:orgId/api-keys": member("apikeys:manage", { impersonation: "refuse" }),
  "POST /v1/orgs/:orgId/api-keys/:id/rotate": member("apikeys:manage", { impersonation: "refuse" }),
  "DELETE /v1/orgs/:orgId/api-keys/:id": member("apikeys:manage"),
  // Usage quotas (RATE-6): any member or key reads its organisation's usage; apps meter their own units.
  "GET /v1/orgs/:orgId/usage": tenant("org:read"),
  "POST /v1/orgs/:orgId/usage": tenant("usage:record"),
  // The audit log (AUDIT-4, AUDIT-5): read and proved by managers or keys holding audit:read; apps record
  // their own events with audit:write. Exports stream whole logs: their own, tighter tier.
  "GET /v1/orgs/:orgId/audit-events": tenant("audit:read"),
  "POST /v1/orgs/:orgId/audit-events": tenant("audit:write"),
  "GET /v1/orgs/:orgId/audit-events/export": tenant("audit:read", { rate: "export" }),
  "GET /v1/orgs/:orgId/audit-events/:id/proof": tenant("audit:read"),
  "GET /v1/orgs/:orgId/audit-checkpoints": tenant("audit:read"),
  "GET /v1/orgs/:orgId/audit-checkpoints/consistency": tenant("audit:read"),
  // Pre-signed uploads (DATA-3): members who write content, or keys holding uploads:write, get links;
  // the local store's links are their own credential (a signature), open to any origin as S3's are.
  "POST /v1/orgs/:orgId/uploads": tenant("uploads:write"),
  "GET /v1/orgs/:orgId/uploads/:id": tenant("org:read"),
  "PUT /v1/storage/orgs/:orgId/:id": { ...PUBLIC, cors: "public" },
  "GET /v1/storage/orgs/:orgId/:id": { ...PUBLIC, cors: "public" },
  // Webhooks (HOOK-1…HOOK-5): managed by managers or keys holding webhooks:manage; an impersonating admin
  // may look but not point an organisation's events somewhere or take its secret. Apps send their own
  // events with webhooks:write.
  "GET /v1/orgs/:orgId/webhook-endpoints": tenant("webhooks:manage"),
  "POST /v1/orgs/:orgId/webhook-endpoints": tenant("webhooks:manage", { impersonation: "refuse" }),
  "PATCH /v1/orgs/:orgId/webhook-endpoints/:id": tenant("webhooks:manage", { impersonation: "refuse" }),
  "DELETE /v1/orgs/:orgId/webhook-endpoints/:id": tenant("webhooks:manage"),
  "POST /v1/orgs/:orgId/webhook-endpoints/:id/rotate-secret": tenant("webhooks:manage", {
    impersonation: "refuse",
  }),
  "POST /v1/orgs/:orgId/webhook-endpoints/:id/test": tenant("webhooks:manage"),
  "GET /v1/orgs/:orgId/webhook-deliveries": tenant("webhooks:manage"),
  "GET /v1/orgs/:orgId/webhook-deliveries/:id": tenant("webhooks:manage"),
  "POST /v1/orgs/:orgId/webhook-deliveries/:id/replay": tenant("webhooks:manage"),
  "POST /v1/orgs/:orgId/webhook-messages": tenant("webhooks:write"),
  // OpenID Connect clients (AUTH-10): like API keys, managers only; a secret is never set while impersonating.
  "GET /v1/orgs/:orgId/oidc-clients": tenant("oidc:manage"),
  "GET /v1/orgs/:orgId/oidc-clients/:id": tenant("oidc:manage"),
  "POST /v1/orgs/:orgId/oidc-clients": tenant("oidc:manage", { impersonation: "refuse" }),
  "PATCH /v1/orgs/:orgId/oidc-clients/:id": tenant("oidc:manage", { impersonation: "refuse" }),
  "POST /v1/orgs/:orgId/oidc-clients/:id/rotate-secret": tenant("oidc:manage", { impersonation: "refuse" }),
  "DELETE /v1/orgs/:orgId/oidc-clients/:id": tenant("oidc:manage"),
  "POST /v1/invitations/accept": { ...USER, optional: true, rate: "auth", impersonation: "refuse" },

  // Platform admins (AUTH-6, AUTHZ-3, AUTHZ-4)
  "POST /v1/admin/auth/login": AUTH_SURFACE,
  "POST /v1/admin/auth/logout": ADMIN,
  "GET /v1/admin/auth/session": { ...ADMIN, optional: true },
  "GET /v1/admin/users": ADMIN,
  "GET /v1/admin/orgs": ADMIN,
  "POST /v1/admin/impersonations": { ...ADMIN, rate: "sensitive" },
  "DELETE /v1/admin/impersonations/current": ADMIN,
  "GET /v1/admin/orgs/:orgId/usage": ADMIN,
  "PUT /v1/admin/orgs/:orgId/quotas/:unit": ADMIN,
  "GET /v1/admin/audit-events": ADMIN,
  "GET /v1/admin/jobs": ADMIN,
};

/** One registered route with its requirements: an entry of `ctx.routes`. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly security: EffectiveSecurity;
}

type RegisteredRouteMutable = EffectiveSecurity & { accepts: PrincipalKind[] };

/**
 * The table at run time: the core rows plus those declared by extensions and embedding apps, and the
 * registry of every route as registered. Rows are declared once; a second, different row for the same
 * route is refused, so nothing can quietly weaken a route's requirements.
 */
export class RouteTable {
  private readonly rows = new Map<string, RouteSecurity>();
  private readonly prefixes: Array<readonly [string, RouteSecurity]> = [];
  private readonly registered: Array<{ method: string; url: string; security: RegisteredRouteMutable }> = [];

  constructor(rows: Readonly<Record<string, RouteSecurity>> = CORE_ROUTES) {
    for (const [key, row] of Object.entries(rows)) this.declare(key, row);
  }

  /**
   * Declares a row: `"METHOD /path/:param"`, or `"METHOD /prefix*"` for a route family (static files, docs).
   * `exact`: the key is one route even when it ends in `*` (a route's own inline row for its wildcard
   * path, which must not open every sibling route below it).
   */
  declare(key: string, security: RouteSecurity, exact = false): void {
    const problems = problemsOf(key, security);
    if (problems.length) throw new Error(`Route table: ${key}: ${problems.join("; ")}`);
    if (!exact && key.endsWith("*") && !key.startsWith("OPTIONS ")) {
      this.prefixes.push([key.slice(0, -1), security]);
      return;
    }
    const existing = this.rows.get(key);
    if (existing && JSON.stringify(existing) !== JSON.stringify(security))
      throw new Error(`Route table: ${key} is declared twice, differently`);
    this.rows.set(key, security);
  }

  /**
   * The row of a route being registered (HEAD shares its GET's). `inline` is a row declared on the route
   * itself (`config.security`); it is added to the table. Throws when the route has no row.
   */
  resolve(method: string, url: string, inline?: RouteSecurity): EffectiveSecurity {
    const key = `${method === "HEAD" ? "GET" : method} ${url}`;
    if (inline) this.declare(key, inline, true);
    // A family row covers its path and what lies below it, never a sibling: "GET /docs*" is /docs and
    // /docs/…, not /docs-admin.
    const row =
      this.rows.get(key) ??
      this.prefixes.find(([p]) => key === p || key.startsWith(p.endsWith("/") ? p : `${p}/`))?.[1];
    if (!row)
      throw new Error(
        `Route ${method} ${url} is not in the route table: declare its requirements (config.security, or the tenant router for tenant routes).`,
      );
    // A copy per route: `"tenant"` rows are completed by `finalize` once every credential kind is known.
    const security = {
      ...row,
      // A re-auth row is closed to impersonation (AUTHZ-4): the effective row, and so the docs, say so.
      impersonation: row.reauth ? ("refuse" as const) : row.impersonation,
      accepts: row.accepts === "tenant" ? [] : [...row.accepts],
      tenantKinds: row.accepts === "tenant",
    };
    this.registered.push({ method, url, security });
    return security;
  }

  /** Records a route that shares an already resolved row (a derived HEAD route, or a second method). */
  record(method: string, url: string, security: EffectiveSecurity): EffectiveSecurity {
    this.registered.push({ method, url, security: security as RegisteredRouteMutable });
    return security;
  }

  /** Completes `"tenant"` rows with the kinds that can act in an organisation. Call when the app is ready. */
  finalize(tenantKinds: readonly PrincipalKind[]): void {
    for (const r of this.registered)
      if (r.security.tenantKinds) r.security.accepts.splice(0, r.security.accepts.length, ...tenantKinds);
  }

  /** Every route as registered, with its row. */
  get routes(): readonly RegisteredRoute[] {
    return this.registered;
  }
}

/** The route table as Markdown (docs/routes.md): one row per route, the columns the pipeline reads. */
export function routesMarkdown(routes: readonly RegisteredRoute[]): string {
  const head =
    "| route | accepts | action | re-auth | impersonation | CORS | HTTPS | rate tier |\n|---|---|---|---|---|---|---|---|";
  const rows = routes
    .filter((r) => r.method !== "HEAD" && r.method !== "OPTIONS")
    .map((r) => {
      const s = r.security;
      const accepts = s.accepts.length ? s.accepts.join(", ") + (s.optional ? " (optional)" : "") : "anyone";
      // Content-hashed asset names change with every edit of the asset; the table names the family.
      const url = r.url.replace(/\.[0-9a-f]{12}\./, ".<hash>.");
      return `| \`${r.method} ${url}\` | ${accepts} | ${s.action ? `\`${s.action}\`` : "—"} | ${s.reauth ? "yes" : "—"} | ${s.impersonation === "refuse" ? "refused" : "allowed"} | ${s.cors} | ${s.https === "exempt" ? "plain HTTP allowed" : "required"} | ${s.rate} |`;
    });
  return [head, ...rows].join("\n");
}
