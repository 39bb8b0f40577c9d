import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../http/errors.js";
import type { Principal, PrincipalKind } from "./principal.js";
import type { EffectiveSecurity, RouteSecurity } from "./requirements.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** A route's own row of the route table, for routes outside Bulwark's table (an app's, a test's). */
    security?: RouteSecurity;
    /** The route's effective row, attached when the route is registered: what the pipeline reads. */
    guard?: EffectiveSecurity;
  }
  interface FastifyRequest {
    /** Who is calling, set by the guard pipeline on routes that accept a principal. */
    principal?: Principal;
    /** The organisation a tenant route acts in, set by the tenant check. */
    tenant?: TenantAccess;
  }
}

/** The organisation a tenant request acts in, and what the principal may do there. */
export interface TenantAccess {
  readonly orgId: string;
  /** The member's role when the principal acts through memberships; undefined for org-bound credentials. */
  readonly role: string | undefined;
  /** Whether the principal may perform `action` in this organisation (role table or scopes). */
  can(action: string): boolean;
}

/** A synchronous answer where possible: the hot path (a cached session) costs no promise. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * How one credential kind is read and proved. `read` is cheap and synchronous (a header or a cookie);
 * `resolve` proves it (hash lookup, cache) and returns null for an unknown, expired or revoked credential.
 */
export interface CredentialResolver {
  readonly kind: PrincipalKind;
  read(request: FastifyRequest): string | undefined;
  resolve(credential: string, request: FastifyRequest): MaybePromise<Principal | null>;
  /** Cookie credentials: does the request carry this principal's CSRF token? */
  checkCsrf?(principal: Principal, presented: string | undefined): boolean;
  /** Has the principal proved its password recently (AUTH-14)? Absent: never (re-auth routes refuse it). */
  recentlyAuthenticated?(principal: Principal): boolean;
}

/** The tenant check: resolves the path's organisation for the principal and checks the action (AUTHZ-1/2). */
export type TenantCheck = (
  request: FastifyRequest,
  principal: Principal,
  action: string,
) => MaybePromise<TenantAccess>;

/**
 * The rate limits of a request (RATE-1…RATE-4), as the pipeline's first and last steps: `before` counts
 * what is known before authentication (the client address), `after` what the proved principal adds (its
 * key, user, organisation and the route's tier). Each rejects with the 429 when a limit is exhausted.
 */
export interface RequestLimits {
  applies(sec: EffectiveSecurity): boolean;
  /** Synchronous (returns or throws) when the counters are in process; a promise otherwise. */
  before(request: FastifyRequest, reply: FastifyReply, sec: EffectiveSecurity): MaybePromise<void>;
  after(request: FastifyRequest, reply: FastifyReply, sec: EffectiveSecurity): MaybePromise<void>;
}

/** Runs a step that may throw, return, or settle later, then `next` once with its outcome. */
function settle(step: () => MaybePromise<void>, next: (err?: Error) => void): void {
  let result: MaybePromise<void>;
  try {
    result = step();
  } catch (err) {
    next(err as Error);
    return;
  }
  if (result instanceof Promise) result.then(() => next(), next);
  else next();
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
type Done = (err?: Error) => void;

/**
 * The guard pipeline: one ordered list of checks, each reading only the route's row and the principal.
 *
 *   0. limits         per client address, before anything else is spent on the request (429)
 *   1. authenticate   the first accepted kind whose credential is present proves it (401 otherwise)
 *   2. csrf           cookie principals on unsafe methods: same-site and the session's token (403)
 *   3. impersonation  rows that refuse it close to an impersonating admin (403); so do re-auth rows: an
 *                     admin cannot prove the user's password, so "recently re-authenticated" never holds
 *   4. reauth         rows that need it: a recent password proof (403)
 *   5. tenant         rows with an action: the organisation and the permission (404 / 403)
 *   6. limits         per key, user, organisation and the row's rate tier (429)
 *
 * The limits come from the rate-limit capability (`setLimits`). New credential kinds plug in with
 * `addCredential`, never by touching a route.
 */
export class GuardPipeline {
  private readonly resolvers = new Map<PrincipalKind, CredentialResolver>();
  private readonly tenant: PrincipalKind[] = [];
  private tenantCheck: TenantCheck | undefined;
  private limits: RequestLimits | undefined;

  /**
   * Registers a credential kind. `tenant`: its principals can act in an organisation, so every tenant
   * route (rows declared `accepts: "tenant"`) accepts it, in registration order; `first` puts it ahead of
   * the kinds registered before (a credential presented on purpose, in a header, wins over a cookie the
   * browser sent by itself).
   */
  addCredential(resolver: CredentialResolver, options: { tenant?: boolean; first?: boolean } = {}): void {
    if (this.resolvers.has(resolver.kind))
      throw new Error(`credential kind "${resolver.kind}" registered twice`);
    this.resolvers.set(resolver.kind, resolver);
    if (options.tenant)
      if (options.first) this.tenant.unshift(resolver.kind);
      else this.tenant.push(resolver.kind);
  }

  /** The kinds that can act in an organisation. */
  get tenantKinds(): readonly PrincipalKind[] {
    return this.tenant;
  }

  setTenantCheck(check: TenantCheck): void {
    this.tenantCheck = check;
  }

  setLimits(limits: RequestLimits): void {
    this.limits = limits;
  }

  /**
   * Has the principal proved its password within the re-auth window (AUTH-14)? Never while impersonated
   * (AUTHZ-4), nor for a kind whose resolver cannot tell. For handlers whose rule depends on the request
   * (weakening a setting, not changing it): the same answer step 4 gives a `reauth` row.
   */
  recentlyAuthenticated(principal: Principal): boolean {
    if (principal.impersonator) return false;
    return this.resolvers.get(principal.kind)?.recentlyAuthenticated?.(principal) ?? false;
  }

  /** Start-up check: every kind a row accepts has a resolver, and tenant rows have the tenant check. */
  verify(routes: ReadonlyArray<{ method: string; url: string; security: EffectiveSecurity }>): void {
    for (const r of routes) {
      for (const kind of r.security.accepts)
        if (!this.resolvers.has(kind))
          throw new Error(
            `Route ${r.method} ${r.url} accepts "${kind}", but no credential resolver exists for it.`,
          );
      if (r.security.action && !this.tenantCheck)
        throw new Error(`Route ${r.method} ${r.url} declares an action, but no tenant check is installed.`);
    }
  }

  /** The onRequest hook. Calls `done` exactly once, with the refusal if any. */
  readonly hook = (request: FastifyRequest, reply: FastifyReply, done: Done): void => {
    const sec = request.routeOptions.config.guard;
    if (!sec) {
      done();
      return;
    }
    const limits = this.limits;
    if (!limits?.applies(sec)) {
      this.authenticate(request, reply, sec, done);
      return;
    }
    settle(
      () => limits.before(request, reply, sec),
      (err) => {
        if (err) done(err);
        else
          this.authenticate(request, reply, sec, (refused) => {
            if (refused) done(refused);
            else settle(() => limits.after(request, reply, sec), done);
          });
      },
    );
  };

  /** Steps 1–5. */
  private authenticate(
    request: FastifyRequest,
    reply: FastifyReply,
    sec: EffectiveSecurity,
    done: Done,
  ): void {
    if (sec.accepts.length === 0) {
      done();
      return;
    }
    let credential: string | undefined;
    let resolver: CredentialResolver | undefined;
    for (const kind of sec.accepts) {
      resolver = this.resolvers.get(kind);
      credential = resolver?.read(request);
      if (credential !== undefined) break;
    }
    if (credential === undefined || !resolver) {
      done(sec.optional ? undefined : new AppError("UNAUTHENTICATED"));
      return;
    }
    let found: MaybePromise<Principal | null>;
    try {
      // A resolver may refuse a real credential outright (a pinned API key from another origin: 403).
      found = resolver.resolve(credential, request);
    } catch (err) {
      done(err as Error);
      return;
    }
    const r = resolver;
    if (found instanceof Promise) found.then((p) => this.admit(request, reply, sec, r, p, done), done);
    else this.admit(request, reply, sec, r, found, done);
  }

  /** Steps 2–5 for a proved credential (null: unknown, expired or revoked). */
  private admit(
    request: FastifyRequest,
    reply: FastifyReply,
    sec: EffectiveSecurity,
    resolver: CredentialResolver,
    principal: Principal | null,
    done: Done,
  ): void {
    // An unknown, expired or revoked credential proves no one: on a route open to anyone too, the caller is
    // anonymous (a browser still holding a dead cookie is simply signed out).
    if (!principal) {
      done(sec.optional ? undefined : new AppError("UNAUTHENTICATED"));
      return;
    }
    // AUTHZ-4: every response to an impersonating admin says so, naming the admin.
    if (principal.impersonator) reply.header("x-bulwark-impersonation", principal.impersonator);
    // The proved caller, even when a check below refuses it: refusals are recorded against who asked.
    request.principal = principal;
    const refusal = this.checks(request, sec, resolver, principal);
    if (refusal || !sec.action) {
      done(refusal);
      return;
    }
    let access: MaybePromise<TenantAccess>;
    try {
      access = this.tenantCheck!(request, principal, sec.action);
    } catch (err) {
      done(err as Error);
      return;
    }
    const settle = (a: TenantAccess): void => {
      request.tenant = a;
      done();
    };
    if (access instanceof Promise) access.then(settle, done);
    else settle(access);
  }

  /** Steps 2–4: synchronous, in order; the first refusal wins. */
  private checks(
    request: FastifyRequest,
    sec: EffectiveSecurity,
    resolver: CredentialResolver,
    principal: Principal,
  ): AppError | undefined {
    if (principal.via === "cookie" && !SAFE.has(request.method)) {
      if (request.headers["sec-fetch-site"] === "cross-site") return new AppError("CSRF_FAILED");
      const presented = request.headers["x-csrf-token"];
      if (!resolver.checkCsrf?.(principal, typeof presented === "string" ? presented : undefined))
        return new AppError("CSRF_FAILED");
    }
    // A re-auth row is "refuse" here already: RouteTable.resolve makes reauth imply it (AUTHZ-4).
    if (principal.impersonator && sec.impersonation === "refuse")
      return new AppError("IMPERSONATION_FORBIDDEN");
    if (sec.reauth && !resolver.recentlyAuthenticated?.(principal)) return new AppError("REAUTH_REQUIRED");
    return undefined;
  }
}
