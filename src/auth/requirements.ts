import type { CorsPolicy } from "../http/cors.js";
import type { PrincipalKind } from "./principal.js";

export type { CorsPolicy };

/**
 * The rate-limit tier a route belongs to (RATE-3), enforced by the rate-limit capability's steps of the
 * guard pipeline. `auth` surfaces have their own limiters (AUTH-7); `none` for probes and static files.
 */
export type RateTier = "general" | "auth" | "sensitive" | "admin" | "export" | "none";
export const RATE_TIERS: readonly RateTier[] = ["general", "auth", "sensitive", "admin", "export", "none"];

/**
 * Everything the guard pipeline needs to know about one route: one row of the route table. Every route
 * has exactly one (a route without one cannot start), and `ctx.routes` records it whole, so the security
 * suite, the OpenAPI document and the security page read the same facts the pipeline enforces.
 */
export interface RouteSecurity {
  /**
   * Principal kinds accepted, in the order their credentials are looked for. Empty: a public route.
   * `"tenant"`: every kind that can act in an organisation (sessions now; API keys and access tokens as
   * their capabilities register), expanded when the app is ready.
   */
  readonly accepts: readonly PrincipalKind[] | "tenant";
  /** Use the credential when one is presented (every check applies), and continue anonymous when none is. */
  readonly optional?: boolean;
  /** The permission needed in the organisation of the path (AUTHZ-1): tenant routes only. */
  readonly action?: string;
  /**
   * A sensitive operation (AUTH-14): the principal must have proved its password within REAUTH_MINUTES.
   * Implies `impersonation: "refuse"` (AUTHZ-4): an impersonating admin never proved the user's password.
   */
  readonly reauth?: boolean;
  /** `refuse`: closed to an admin impersonating a user (AUTHZ-4): credentials and second factors stay the user's. */
  readonly impersonation: "allow" | "refuse";
  readonly cors: CorsPolicy;
  /** `exempt`: served over plain HTTP even where HTTPS is enforced (probes come straight from the orchestrator). */
  readonly https: "required" | "exempt";
  readonly rate: RateTier;
  /** What one request costs against its rate limits (default 1): an expensive route counts for more. */
  readonly cost?: number;
}

/** A row as the pipeline reads it: `"tenant"` expanded to the kinds that can act in an organisation. */
export interface EffectiveSecurity extends Omit<RouteSecurity, "accepts"> {
  readonly accepts: readonly PrincipalKind[];
  /** Declared as `"tenant"`: follows the tenant kinds registered with the guard. */
  readonly tenantKinds: boolean;
}

const base = { impersonation: "allow", cors: "session", https: "required" } as const;

/** Anyone; general rate tier. */
export const PUBLIC: RouteSecurity = { ...base, accepts: [], rate: "general" };
/** Anyone, on an authentication surface (sign-up, sign-in, recovery): its own limiters. */
export const AUTH_SURFACE: RouteSecurity = { ...base, accepts: [], rate: "auth" };
/** Liveness, readiness and metrics: plain HTTP allowed, never rate-limited. */
export const PROBE: RouteSecurity = { ...base, accepts: [], https: "exempt", rate: "none" };
/** A signed-in tenant user (portal session). */
export const USER: RouteSecurity = { ...base, accepts: ["user"], rate: "general" };
/** The user's own credentials and second factors: never while impersonated. */
export const USER_CREDENTIALS: RouteSecurity = { ...USER, impersonation: "refuse", rate: "sensitive" };
/** A platform admin (admin session). */
export const ADMIN: RouteSecurity = { ...base, accepts: ["admin"], rate: "admin" };

/** A tenant route under `/v1/orgs/:orgId` needing `action`. */
export function tenant(action: string, overrides: Partial<RouteSecurity> = {}): RouteSecurity {
  return { ...base, accepts: "tenant", rate: "general", ...overrides, action };
}

/**
 * A tenant route for members only (portal sessions): its rules name a person (owner rules, who invited
 * whom), so no organisation-bound credential (an API key) can act there.
 */
export function member(action: string, overrides: Partial<RouteSecurity> = {}): RouteSecurity {
  return tenant(action, { ...overrides, accepts: ["user"] });
}

/** The problems with a declared row, for the start-up check (empty: fine). */
export function problemsOf(route: string, s: RouteSecurity): string[] {
  const p: string[] = [];
  if (!Array.isArray(s.accepts) && s.accepts !== "tenant")
    p.push('accepts must be a list of principal kinds, or "tenant"');
  const anyone = s.accepts !== "tenant" && s.accepts.length === 0;
  if (s.optional && anyone) p.push("optional needs a credential kind to accept");
  if (s.action && anyone) p.push("a route with an action needs an authenticated principal");
  if (s.reauth && anyone) p.push("reauth needs an authenticated principal");
  if (!["allow", "refuse"].includes(s.impersonation)) p.push(`impersonation "${s.impersonation}"`);
  if (!["session", "public"].includes(s.cors)) p.push(`cors "${s.cors}"`);
  if (!["required", "exempt"].includes(s.https)) p.push(`https "${s.https}"`);
  if (!RATE_TIERS.includes(s.rate)) p.push(`rate tier "${s.rate}"`);
  if (s.cost !== undefined && !(Number.isInteger(s.cost) && s.cost >= 1 && s.cost <= 1000))
    p.push("cost must be a whole number from 1 to 1000");
  if (route.includes("/v1/orgs/:orgId") && !s.action)
    p.push("every tenant route declares the action it needs (AUTHZ-1)");
  return p;
}
