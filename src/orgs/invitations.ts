import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { Email, Password, Token } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import { templates } from "../mail/templates.js";
import { enforce } from "../ratelimit/auth-limits.js";
import type { Limiter } from "../ratelimit/limiter.js";
import { sessionCookie } from "../sessions/cookies.js";
import type { SessionService } from "../sessions/service.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import { type InvitationRow, invitationsStore as store } from "./invitations-store.js";
import type { Role } from "./permissions.js";
import { RoleSchema } from "./schemas.js";
import type { OrgStore } from "./store.js";

const TTL_MS = 7 * 86_400_000;
const tags = ["orgs"];
const Invitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  expiresAt: Type.String(),
});
const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
const InvParams = Type.Object({
  orgId: Type.String({ maxLength: 40 }),
  id: Type.String({ pattern: "^inv_[0-9A-Z]{26}$" }),
});
const view = (i: InvitationRow) => ({
  id: i.public_id,
  email: i.email,
  role: i.role,
  expiresAt: new Date(i.expires_at).toISOString(),
});

export interface InvitationDeps {
  readonly config: Config;
  readonly db: Database;
  readonly orgs: OrgStore;
  readonly identity: IdentityService;
  readonly sessions: SessionService;
  readonly resendLimiter: Limiter;
}

/**
 * Invitations (AUTHZ-5): by email, with a role; the token is single-use, expires in 7 days, and is bound
 * to the invited address: a signed-in account with another address cannot use it. Someone without an
 * account accepts by choosing a password: the token that reached their mailbox verifies the address.
 */
export async function invitationRoutes(app: FastifyInstance, d: InvitationDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const link = (orgId: string, token: string) =>
    `${d.config.publicUrl}/accept-invitation?org=${orgId}&token=${token}`;

  async function send(orgId: string, inv: InvitationRow, token: string): Promise<void> {
    const org = await d.orgs.find(orgId);
    d.identity.mail(
      templates.invitation(
        inv.email,
        org?.name ?? "an organisation",
        inv.role,
        link(orgId, token),
        TTL_MS / 86_400_000,
      ),
    );
  }

  r.post(
    "/v1/orgs/:orgId/invitations",
    {
      config: { auth: "user", action: "members:invite" },
      schema: {
        tags,
        params: OrgParams,
        body: Type.Object({ email: Email, role: RoleSchema }),
        response: { 201: Type.Object({ invitation: Invitation }) },
      },
    },
    async (req, reply) => {
      const { orgId, role } = req.tenant!;
      if (req.body.role === "OWNER" && role !== "OWNER")
        throw new AppError("FORBIDDEN", "Only an owner can invite an owner.");
      const now = Date.now();
      const token = newSecret("bwi");
      const inv: InvitationRow = {
        id: sha256(token),
        public_id: newId("inv", now),
        org_id: orgId,
        email: req.body.email.trim().toLowerCase(),
        role: req.body.role as Role,
        invited_by: req.auth!.userId,
        expires_at: now + TTL_MS,
        accepted_at: null,
        revoked_at: null,
        created_at: now,
      };
      await d.db.withOrg(orgId, (tx) => store.insert(tx, inv));
      await send(orgId, inv, token);
      return reply.code(201).send({ invitation: view(inv) });
    },
  );

  r.get(
    "/v1/orgs/:orgId/invitations",
    {
      config: { auth: "user", action: "members:invite" },
      schema: {
        tags,
        params: OrgParams,
        response: { 200: Type.Object({ invitations: Type.Array(Invitation) }) },
      },
    },
    async (req) => {
      const { orgId } = req.tenant!;
      return {
        invitations: (await d.db.withOrg(orgId, (tx) => store.pending(tx, orgId, Date.now()))).map(view),
      };
    },
  );

  r.delete(
    "/v1/orgs/:orgId/invitations/:id",
    { config: { auth: "user", action: "members:invite" }, schema: { tags, params: InvParams } },
    async (req, reply) => {
      const { orgId } = req.tenant!;
      if (!(await d.db.withOrg(orgId, (tx) => store.revoke(tx, orgId, req.params.id, Date.now()))))
        throw new AppError("NOT_FOUND");
      return reply.code(204).send();
    },
  );

  r.post(
    "/v1/orgs/:orgId/invitations/:id/resend",
    {
      config: { auth: "user", action: "members:invite" },
      schema: {
        tags,
        params: InvParams,
        body: Type.Optional(Type.Object({})),
        response: { 202: Type.Object({ invitation: Invitation }) },
      },
    },
    async (req, reply) => {
      const { orgId } = req.tenant!;
      await enforce(d.resendLimiter, req.params.id);
      const token = newSecret("bwi");
      const inv = await d.db.withOrg(orgId, async (tx) => {
        if (!(await store.retoken(tx, orgId, req.params.id, sha256(token), Date.now() + TTL_MS)))
          return undefined;
        return store.byPublicId(tx, orgId, req.params.id);
      });
      if (!inv) throw new AppError("NOT_FOUND");
      await send(orgId, inv, token);
      return reply.code(202).send({ invitation: view(inv) });
    },
  );

  r.post(
    "/v1/invitations/accept",
    {
      config: { authOptional: true },
      schema: {
        tags,
        body: Type.Object({
          orgId: Type.String({ pattern: "^org_[0-9A-Z]{26}$" }),
          token: Token,
          password: Type.Optional(Password),
        }),
        response: {
          200: Type.Object({
            org: Type.Object({ id: Type.String(), role: RoleSchema }),
            csrfToken: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (req, reply) => {
      const { orgId, token } = req.body;
      const id = sha256(token);
      const now = Date.now();
      const inv = await d.db.withOrg(orgId, (tx) =>
        tx.selectFrom("invitations").selectAll().where("id", "=", id).executeTakeFirst(),
      );
      if (!inv || inv.accepted_at !== null || inv.revoked_at !== null || inv.expires_at <= now)
        throw new AppError("TOKEN_INVALID");
      let userId: string;
      let fresh = false;
      if (req.auth) {
        if (req.auth.session.email !== inv.email) throw new AppError("INVITATION_EMAIL_MISMATCH");
        userId = req.auth.userId;
      } else {
        if (!req.body.password)
          throw new AppError(
            "UNAUTHENTICATED",
            `Sign in as ${inv.email}, or choose a password to create the account.`,
          );
        userId = (await d.identity.createVerifiedUser(inv.email, req.body.password)).id;
        fresh = true;
      }
      // Spend the token and add the membership in the organisation's one transaction.
      const accepted = await d.db.withOrg(orgId, async (tx) => {
        const used = await store.consume(tx, orgId, id, now);
        if (!used) return undefined;
        await tx
          .insertInto("memberships")
          .values({ org_id: orgId, user_id: userId, role: used.role, created_at: now })
          .onConflict((oc) => oc.columns(["org_id", "user_id"]).doNothing())
          .execute();
        return used;
      });
      if (!accepted) throw new AppError("TOKEN_INVALID");
      if (!fresh) return { org: { id: orgId, role: accepted.role } };
      const { token: sessionToken, row } = await d.sessions.create(userId, "portal", {
        ip: req.ip,
        userAgent: req.headers["user-agent"],
      });
      reply.header("set-cookie", sessionCookie(d.config, "portal", sessionToken));
      return { org: { id: orgId, role: accepted.role }, csrfToken: d.sessions.csrfToken(row) };
    },
  );
}
