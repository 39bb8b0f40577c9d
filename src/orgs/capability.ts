import type { Capability } from "../capability.js";
import type { PersonalData } from "../privacy/personal.js";
import { Limiter } from "../ratelimit/limiter.js";
import { AccessCache } from "./access-cache.js";
import { INVITATION_DAYS, InvitationService, INVITATION_LIMITS as L } from "./invitation-service.js";
import { invitationRoutes } from "./invitations.js";
import { orgMigrations } from "./migrations.js";
import { orgRoutes } from "./plugin.js";
import { OrgService } from "./service.js";
import { OrgStore } from "./store.js";
import { type DenialSink, logDenials, tenantCheck } from "./tenant-check.js";

declare module "../context.js" {
  interface Services {
    orgs: OrgService;
    invitations: InvitationService;
  }
}

/** Organisations, memberships, invitations and the tenant check of the guard pipeline. */
export function orgsCapability(sink?: DenialSink): Capability {
  return {
    name: "orgs",
    personalData: [
      { table: "memberships", column: "user_id" },
      // Invitations to the person's address (`id` is the SHA-256 of the link's token), and those they
      // sent (without the invitee's address: another person's).
      { table: "invitations", column: "email", match: "email", tenant: true, omit: ["id"] },
      {
        table: "invitations",
        column: "invited_by",
        tenant: true,
        omit: ["id", "email"],
        erase: "pseudonymise",
      },
    ] satisfies PersonalData[],
    migrations: orgMigrations,
    async register(app, ctx) {
      const { config, db } = ctx;
      const mfa = ctx.service("mfa");
      const store = new OrgStore(db.global, db.engine, new AccessCache(30_000, 100_000, ctx.bus));
      // AUDIT-2: every organisation, membership and invitation change is recorded in its transaction.
      const orgs = new OrgService(store, mfa, ctx.permissions, ctx.service("audit"));
      const counters = ctx.service("counters");
      const HOUR = 3_600_000;
      const invitations = new InvitationService({
        config,
        db,
        orgs: store,
        identity: ctx.service("identity"),
        audit: ctx.service("audit"),
        limits: {
          org: new Limiter(counters, "invite-org", L.perOrgPerDay, 24 * HOUR),
          sender: new Limiter(counters, "invite-sender", L.perSenderPerHour, HOUR),
          recipient: new Limiter(counters, "invite-recipient", L.perRecipientPerDay, 24 * HOUR),
          resend: new Limiter(counters, "invitation-resend", L.resendsPerHour, HOUR),
        },
      });
      ctx.provide("orgs", orgs);
      ctx.provide("invitations", invitations);
      // AUTHZ-6: refusals are logged and written to the audit log (an embedding app may route them itself).
      const audit = ctx.service("audit");
      const denials: DenialSink = sink ?? {
        record(d, request) {
          logDenials.record(d, request);
          audit.recordDenial(d, request, d.reason !== "not_member");
        },
      };
      ctx.guard.setTenantCheck(tenantCheck(orgs, mfa, ctx.permissions, denials));

      await app.register(orgRoutes, { orgs });
      await app.register(invitationRoutes, {
        config,
        invitations,
        sessions: ctx.service("sessions"),
      });

      ctx.posture.register({
        id: "AUTHZ-5",
        title: "Invitations",
        claim: `Members are invited by email with a role; the link is single-use, expires in ${INVITATION_DAYS} days and works only for the invited address; accepting can raise a member's role, never lower it. Invitation mails are limited to ${L.perOrgPerDay} per organisation per day, ${L.perSenderPerHour} per sender per hour, ${L.perRecipientPerDay} per recipient address per day and ${L.resendsPerHour} resends per invitation per hour, and name the organisation only quoted in the body, never in the subject.`,
        settings: { expiresInDays: INVITATION_DAYS, ...L },
        enabled: true,
      });
      app.addHook("onReady", async () => {
        // Registered once every extension has added its actions: the count is the whole table's.
        ctx.posture.register({
          id: "AUTHZ-1",
          title: "Roles and one permission table",
          claim:
            "Every route has a row in one route table naming the credentials it accepts and, for organisation routes, the action it needs; one guard pipeline checks it against a single table of roles (OWNER, ADMIN, MEMBER, VIEWER) and actions. A route without a row cannot start.",
          settings: {
            roles: ["OWNER", "ADMIN", "MEMBER", "VIEWER"],
            actions: ctx.permissions.actions.length,
          },
          enabled: true,
        });
      });
      ctx.posture.register({
        id: "AUTHZ-2",
        title: "Tenant isolation, twice",
        claim:
          db.engine === "postgres"
            ? "The organisation comes from the caller's memberships; the data layer refuses tenant queries outside an organisation's transaction, and PostgreSQL row-level security (forced, with a role that cannot bypass it) enforces the same in the database."
            : "The organisation comes from the caller's memberships; the data layer refuses tenant queries outside an organisation's scope and, inside it, restricts every statement on a tenant table to that organisation.",
        settings: { engine: db.engine, rowLevelSecurity: db.engine === "postgres" },
        enabled: true,
      });
    },
  };
}
