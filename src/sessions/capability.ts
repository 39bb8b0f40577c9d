import type { Capability } from "../capability.js";
import type { PersonalData } from "../privacy/personal.js";
import { SessionCache } from "./cache.js";
import { cookieName } from "./cookies.js";
import { sessionCredentials } from "./credentials.js";
import { SessionService } from "./service.js";
import { SessionStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    sessions: SessionService;
  }
}

/** Server-side sessions and their two cookie credentials (portal and admin). */
export const sessionsCapability: Capability = {
  name: "sessions",
  // A session's id is the SHA-256 of its cookie's token; its public id is what the account page shows.
  // An impersonation's session is the admin's doing: its address and browser are the admin's.
  personalData: [
    {
      table: "sessions",
      column: "user_id",
      omit: ["id"],
      shape: (row) => (row.impersonator_id ? { ...row, ip: null, user_agent: null } : row),
    },
  ] satisfies PersonalData[],
  migrations: () => ({
    "0007_impersonation": {
      async up(db) {
        await db.schema.alterTable("sessions").addColumn("impersonator_id", "text").execute();
      },
    },
  }),
  register(_app, ctx) {
    const { config } = ctx;
    const sessions = new SessionService(
      new SessionStore(ctx.db.global),
      config,
      ctx.service("audit"),
      undefined,
      new SessionCache(30_000, 50_000, ctx.bus),
    );
    const [user, admin] = sessionCredentials(config, sessions);
    ctx.guard.addCredential(user!, { tenant: true });
    ctx.guard.addCredential(admin!);
    ctx.provide("sessions", sessions);
    ctx.service("jobs").schedule("sessions.retention", { everyMs: 86_400_000 }, () => sessions.purgeEnded());

    const a = config.auth;
    ctx.posture.register({
      id: "AUTH-5",
      title: "Server-side cookie sessions",
      claim: `Sessions live in an HttpOnly, SameSite=Lax${config.production ? ", Secure, __Host-" : ""} cookie holding a random token stored only as its hash; they end after ${a.sessionAbsoluteMs / 3_600_000} hours or ${a.sessionIdleMs / 60_000} idle minutes, can be listed and revoked, and state-changing requests need a per-session CSRF token.`,
      settings: {
        cookie: cookieName(config, "portal"),
        absoluteHours: a.sessionAbsoluteMs / 3_600_000,
        idleMinutes: a.sessionIdleMs / 60_000,
      },
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTH-6",
      title: "Separate doors for staff and tenants",
      claim:
        "Platform staff sign in at their own endpoint with their own cookie; a tenant session is never accepted on the admin surface, nor an admin session on the portal.",
      settings: { portalCookie: cookieName(config, "portal"), adminCookie: cookieName(config, "admin") },
      enabled: true,
    });
  },
};
