import type { CredentialResolver } from "../auth/pipeline.js";
import type { Principal } from "../auth/principal.js";
import type { Config } from "../config/load.js";
import type { SessionEntry } from "./cache.js";
import { cookieName, readCookie } from "./cookies.js";
import type { SessionService } from "./service.js";

type Memo = SessionEntry & { principal?: Principal };

/** The principal of a session; built once per cached entry, so a cached request allocates nothing. */
function principalOf(kind: "user" | "admin", entry: Memo): Principal {
  entry.principal ??= Object.freeze({
    kind,
    id: entry.user_id,
    userId: entry.user_id,
    email: entry.email,
    tenancy: kind === "user" ? { kind: "memberships" as const } : { kind: "platform" as const },
    via: "cookie" as const,
    impersonator: entry.impersonator_id ?? undefined,
    session: entry,
  });
  return entry.principal;
}

/**
 * The two session credentials (AUTH-5, AUTH-6): the portal cookie proves a `user`, the admin cookie an
 * `admin`. Each surface reads only its own cookie, so a portal cookie on an admin route, or the reverse,
 * is simply not a credential there. Both come from a cookie: the pipeline demands their CSRF token.
 */
export function sessionCredentials(config: Config, sessions: SessionService): CredentialResolver[] {
  const resolver = (kind: "user" | "admin"): CredentialResolver => {
    const sessionKind = kind === "admin" ? "admin" : "portal";
    const name = cookieName(config, sessionKind);
    return {
      kind,
      read: (request) => readCookie(request.headers.cookie, name),
      resolve: (token) => {
        const cached = sessions.validateCached(token, sessionKind);
        if (cached) return principalOf(kind, cached);
        return sessions.validate(token, sessionKind).then((s) => (s ? principalOf(kind, s) : null));
      },
      checkCsrf: (p, presented) => p.session !== undefined && sessions.checkCsrf(p.session, presented),
      recentlyAuthenticated: (p) => p.session !== undefined && sessions.isRecentlyAuthenticated(p.session),
    };
  };
  return [resolver("user"), resolver("admin")];
}
