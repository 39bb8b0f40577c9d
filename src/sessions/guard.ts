import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import { cookieName, readCookie } from "./cookies.js";
import type { SessionService } from "./service.js";
import type { SessionRow } from "./tables.js";

export type AuthSurface = "user" | "admin";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route: a signed-in tenant user or a platform admin. Unset: public. */
    auth?: AuthSurface;
    /** A state-changing route that needs no CSRF token (it creates the session, e.g. sign-in). */
    csrfExempt?: boolean;
    /** A sensitive operation (AUTH-14): the session must have proved the password within REAUTH_MINUTES. */
    reauth?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated principal, set by the auth guard on routes that declare `auth`. */
    auth?: { readonly surface: AuthSurface; readonly session: SessionRow; readonly userId: string };
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
    app.addHook("onRequest", async (request: FastifyRequest) => {
      const surface = request.routeOptions.config.auth;
      if (!surface) return;
      const token = readCookie(request.headers.cookie, names[surface]);
      const session = token ? await sessions.validate(token, surface === "admin" ? "admin" : "portal") : null;
      if (!session) throw new AppError("UNAUTHENTICATED");
      if (!SAFE.has(request.method) && !request.routeOptions.config.csrfExempt) {
        if (request.headers["sec-fetch-site"] === "cross-site") throw new AppError("CSRF_FAILED");
        const presented = request.headers["x-csrf-token"];
        if (!sessions.checkCsrf(session, typeof presented === "string" ? presented : undefined))
          throw new AppError("CSRF_FAILED");
      }
      if (request.routeOptions.config.reauth && !sessions.isRecentlyAuthenticated(session))
        throw new AppError("REAUTH_REQUIRED");
      request.auth = { surface, session, userId: session.user_id };
    });
  },
  { name: "bulwark-auth-guard" },
);
