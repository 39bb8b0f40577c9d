import type { Capability } from "../capability.js";
import { PasswordHasher } from "../identity/password.js";
import { impersonationRoutes } from "./impersonation.js";
import { adminMigrations } from "./migrations.js";
import { adminRoutes } from "./plugin.js";
import { AdminService } from "./service.js";
import { AdminStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    admins: AdminService;
  }
}

/** Platform staff: their own table, door and cookie (AUTH-6, AUTHZ-3), and impersonation (AUTHZ-4). */
export const adminCapability: Capability = {
  name: "admin",
  migrations: adminMigrations,
  async register(app, ctx) {
    const { config } = ctx;
    const sessions = ctx.service("sessions");
    const admins = new AdminService(
      new AdminStore(ctx.db.global),
      new PasswordHasher(config.auth.argon2),
      ctx.service("mfa"),
      config,
      { audit: ctx.service("audit") },
    );
    ctx.provide("admins", admins);
    const deps = {
      config,
      admins,
      sessions,
      limits: ctx.service("authLimits"),
      identity: ctx.service("identity"),
      orgs: ctx.service("orgs"),
    };
    await app.register(adminRoutes, deps);
    await app.register(impersonationRoutes, deps);
    app.addHook("onReady", async () => {
      if ((await admins.count()) === 0)
        ctx.log.warn(
          "No platform admin yet. Create one with: bulwark admin create --email you@example.com --password-stdin (from a checkout: npm run --silent bulwark -- admin create …; an app that embeds Bulwark: its own bin calling runCli from bulwark/cli).",
        );
    });
    ctx.posture.register({
      id: "AUTHZ-3",
      title: "Platform admins are not a tenant role",
      claim: config.production
        ? "Admins live in their own table, are created only from the command line (no HTTP route creates one), and sign in with a password and TOTP; an admin without TOTP cannot sign in."
        : "Admins live in their own table, are created only from the command line (no HTTP route creates one), and sign in with a password and TOTP (outside production an admin may be created without TOTP, for local use).",
      enabled: true,
    });
    ctx.posture.register({
      id: "AUTHZ-4",
      title: "Impersonation, marked and time-limited",
      claim:
        "Platform admins can act as a user to debug, with a stated reason, for at most 60 minutes (30 by default); every response carries X-Bulwark-Impersonation naming the admin, every console page shows a banner with the time left, and the session is marked in the user's own session list. Nothing that outlives it or locks the user out is allowed: credentials, second factors, invitations, role and membership changes, ending the user's sessions, anything that needs a recent re-authentication and turning an organisation's two-factor requirement off are refused. Start, stop and every write (allowed or refused) are recorded with both identities, and admins cannot be impersonated.",
      settings: { defaultMinutes: 30, maxMinutes: 60 },
      enabled: true,
    });
  },
};
