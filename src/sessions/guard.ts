import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import type { SessionEntry } from "./cache.js";
import { cookieName, readCookie } from "./cookies.js";
import type { SessionService } from "./service.js";

export type AuthSurface = "user" | "admin";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route: a signed-in tenant user or a platform admin. Unset: public. */
    auth?: AuthSurface;
    /** A state-changing route that needs no CSRF token (it creates the session, e.g. sign-in). */
    csrfExempt?: boolean;
    /** Refused to an admin impersonating a user (AUTHZ-4): credentials and second factors stay the user's own. */
    noImpersonation?: boolean;
    /** Use a portal session when the request has one (CSRF enforced), and continue without when it has none. */
    authOptional?: boolean;
    /** A sensitive operation (AUTH-14): the session must have proved the password within REAUTH_MINUTES. */
    reauth?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated principal, set by the auth guard on routes that declare `auth`. */
    auth?: { readonly surface: AuthSurface; readonly session: SessionEntry; readonly userId: string };
  }
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The authentication guard: on every route that declares `config.auth`, it resolves the session from
 * that surface's own cookie (AUTH-6: a portal cookie on an admin route, or the reverse, is simply not a
 * credential there), and for state-changing methods demands the session's CSRF token and refuses
 * cross-site requests (Sec-Fetch-Site). Not encapsulated: it guards routes registered anywhere.
 */
export const authGuard = fp(
  async (app: FastifyInstance, opts: { config: Config; sessions: SessionService }) => {
    const { config, sessions } = opts;
    const names = { user: cookieName(config, "portal"), admin: cookieName(config, "admin") } as const;
    app.decorateRequest("auth", undefined);
    // Callback style with a synchronous path: a cached session costs no promise, and public routes
    // (most traffic) pay one property read.
    app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, done) => {
      const config = request.routeOptions.config;
      const surface = config.auth ?? (config.authOptional ? "user" : undefined);
      if (!surface) return done();
      const kind = surface === "admin" ? "admin" : "portal";
      const token = readCookie(request.headers.cookie, names[surface]);
      if (!token) return done(config.auth ? new AppError("UNAUTHENTICATED") : undefined);
      const cached = sessions.validateCached(token, kind);
      if (cached) return admit(request, reply, surface, cached, done);
      sessions.validate(token, kind).then((session) => admit(request, reply, surface, session, done), done);
    });

    /** The checks after a session is found; calls `done` exactly once, with the refusal if any. */
    function admit(
      request: FastifyRequest,
      reply: FastifyReply,
      surface: AuthSurface,
      session: SessionEntry | null,
      done: (err?: Error) => void,
    ): void {
      const refusal = check(request, session);
      if (refusal || !session) {
        done(refusal ?? new AppError("UNAUTHENTICATED"));
        return;
      }
      // AUTHZ-4: every response to an impersonating admin says so, naming the admin.
      if (session.impersonator_id) reply.header("x-bulwark-impersonation", session.impersonator_id);
      request.auth = { surface, session, userId: session.user_id };
      done();
    }

    function check(request: FastifyRequest, session: SessionEntry | null): AppError | undefined {
      if (!session) return new AppError("UNAUTHENTICATED");
      if (!SAFE.has(request.method) && !request.routeOptions.config.csrfExempt) {
        if (request.headers["sec-fetch-site"] === "cross-site") return new AppError("CSRF_FAILED");
        const presented = request.headers["x-csrf-token"];
        if (!sessions.checkCsrf(session, typeof presented === "string" ? presented : undefined))
          return new AppError("CSRF_FAILED");
      }
      if (session.impersonator_id && request.routeOptions.config.noImpersonation)
        return new AppError("IMPERSONATION_FORBIDDEN");
      if (request.routeOptions.config.reauth && !sessions.isRecentlyAuthenticated(session))
        return new AppError("REAUTH_REQUIRED");
      return undefined;
    }
  },
  { name: "bulwark-auth-guard" },
);
