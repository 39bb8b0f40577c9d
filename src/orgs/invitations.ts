import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import { nextCursor, pageParams } from "../http/paging.js";
import { Email, NoContent, Password, Token } from "../identity/schemas.js";
import { sessionCookie } from "../sessions/cookies.js";
import type { SessionService } from "../sessions/service.js";
import type { InvitationService } from "./invitation-service.js";
import type { InvitationRow } from "./invitations-store.js";
import { RoleSchema } from "./schemas.js";
import { stampOf } from "./stamp.js";
import { actorOf } from "./tenant-check.js";

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

export interface InvitationRouteDeps {
  readonly config: Config;
  readonly invitations: InvitationService;
  readonly sessions: SessionService;
}

/** Invitations (AUTHZ-5): `/v1/orgs/{orgId}/invitations*` and `/v1/invitations/accept`. */
export async function invitationRoutes(app: FastifyInstance, d: InvitationRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/orgs/:orgId/invitations",
    {
      schema: {
        tags,
        params: OrgParams,
        body: Type.Object({ email: Email, role: RoleSchema }),
        response: { 201: Type.Object({ invitation: Invitation }) },
      },
    },
    async (req, reply) => {
      const inv = await d.invitations.invite(
        req.tenant!.orgId,
        actorOf(req),
        req.body.email,
        req.body.role,
        stampOf(req),
      );
      return reply.code(201).send({ invitation: view(inv) });
    },
  );

  r.get(
    "/v1/orgs/:orgId/invitations",
    {
      schema: {
        tags,
        params: OrgParams,
        querystring: Type.Object({
          ...pageParams("^inv_[0-9A-Z]{26}$", 100),
        }),
        response: {
          200: Type.Object({
            invitations: Type.Array(Invitation),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      const rows = await d.invitations.pending(req.tenant!.orgId, limit, req.query.after);
      return {
        invitations: rows.map(view),
        nextCursor: nextCursor(rows, limit, (r) => r.public_id),
      };
    },
  );

  r.delete(
    "/v1/orgs/:orgId/invitations/:id",
    { schema: { tags, params: InvParams, response: NoContent } },
    async (req, reply) => {
      await d.invitations.revoke(req.tenant!.orgId, req.params.id, stampOf(req));
      return reply.code(204).send();
    },
  );

  r.post(
    "/v1/orgs/:orgId/invitations/:id/resend",
    {
      schema: {
        tags,
        params: InvParams,
        body: Type.Optional(Type.Object({})),
        response: { 202: Type.Object({ invitation: Invitation }) },
      },
    },
    async (req, reply) => {
      const inv = await d.invitations.resend(req.tenant!.orgId, actorOf(req), req.params.id, stampOf(req));
      return reply.code(202).send({ invitation: view(inv) });
    },
  );

  r.post(
    "/v1/invitations/accept",
    {
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
      const p = req.principal;
      const { role, createdUserId } = await d.invitations.accept(
        {
          orgId: req.body.orgId,
          token: req.body.token,
          signedIn: p?.userId ? { userId: p.userId, email: p.email } : undefined,
          password: req.body.password,
        },
        stampOf(req),
      );
      const org = { id: req.body.orgId, role };
      if (!createdUserId) return { org };
      // A newcomer is signed in at once: the token that reached their mailbox proved the address.
      const { token, row } = await d.sessions.create(createdUserId, "portal", {
        ip: req.ip,
        userAgent: req.headers["user-agent"],
      });
      reply.header("set-cookie", sessionCookie(d.config, "portal", token));
      return { org, csrfToken: d.sessions.csrfToken(row) };
    },
  );
}
