import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../http/errors.js";
import { nextCursor, pageParams } from "../http/paging.js";
import { NoContent } from "../identity/schemas.js";
import type { Role } from "./permissions.js";
import { RoleSchema } from "./schemas.js";
import type { OrgService } from "./service.js";
import { stampOf } from "./stamp.js";
import type { OrganizationRow } from "./tables.js";
import { actorOf } from "./tenant-check.js";

const tags = ["orgs"];
const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
const MemberParams = Type.Object({
  orgId: Type.String({ maxLength: 40 }),
  userId: Type.String({ pattern: "^usr_[0-9A-Z]{26}$" }),
});
const Org = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  requireMfa: Type.Boolean(),
  role: Type.Optional(RoleSchema),
});
const Member = Type.Object({
  userId: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  joinedAt: Type.String(),
});

const view = (o: OrganizationRow, role?: Role) => ({
  id: o.id,
  name: o.name,
  slug: o.slug,
  requireMfa: o.require_mfa === 1,
  ...(role ? { role } : {}),
});

/** Organisations and memberships (AUTHZ-1): `/v1/orgs*`. */
export async function orgRoutes(app: FastifyInstance, opts: { orgs: OrgService }): Promise<void> {
  const { orgs } = opts;
  const { guard } = app.bulwark;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/orgs",
    {
      schema: {
        tags,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          slug: Type.Optional(Type.String({ pattern: "^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$" })),
        }),
        response: { 201: Type.Object({ org: Org }) },
      },
    },
    async (req, reply) => {
      const org = await orgs.create(userOf(req), req.body, stampOf(req));
      return reply.code(201).send({ org: view(org, "OWNER") });
    },
  );

  r.get(
    "/v1/orgs",
    {
      schema: {
        tags,
        querystring: Type.Object({
          ...pageParams("^org_[0-9A-Z]{26}$", 100),
        }),
        response: {
          200: Type.Object({ orgs: Type.Array(Org), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      const rows = await orgs.listForUser(userOf(req), limit, req.query.after);
      return {
        orgs: rows.map((o) => view(o, o.role)),
        nextCursor: nextCursor(rows, limit, (r) => r.id),
      };
    },
  );

  r.get(
    "/v1/orgs/:orgId",
    {
      schema: { tags, params: OrgParams, response: { 200: Type.Object({ org: Org }) } },
    },
    async (req) => ({ org: view(await orgs.get(req.tenant!.orgId), req.tenant!.role as Role | undefined) }),
  );

  r.patch(
    "/v1/orgs/:orgId",
    {
      schema: {
        tags,
        params: OrgParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            requireMfa: Type.Optional(Type.Boolean()),
          },
          { minProperties: 1 },
        ),
        response: { 200: Type.Object({ org: Org }) },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const principal = req.principal!;
      const assurance = {
        impersonated: principal.impersonator !== undefined,
        // The guard's own answer to "proved the password recently?" (AUTH-14), false while impersonated.
        recentlyAuthenticated: guard.recentlyAuthenticated(principal),
      };
      const org = await orgs.update(req.tenant!.orgId, actor, req.body, assurance, stampOf(req));
      return { org: view(org, actor.role) };
    },
  );

  r.get(
    "/v1/orgs/:orgId/members",
    {
      schema: {
        tags,
        params: OrgParams,
        querystring: Type.Object({
          ...pageParams("^usr_[0-9A-Z]{26}$", 100),
        }),
        response: {
          200: Type.Object({
            members: Type.Array(Member),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      const rows = await orgs.listMembers(req.tenant!.orgId, limit, req.query.after);
      return {
        members: rows.map((m) => ({
          userId: m.user_id,
          email: m.email,
          role: m.role,
          joinedAt: new Date(m.created_at).toISOString(),
        })),
        nextCursor: nextCursor(rows, limit, (r) => r.user_id),
      };
    },
  );

  r.patch(
    "/v1/orgs/:orgId/members/:userId",
    {
      schema: {
        tags,
        params: MemberParams,
        body: Type.Object({ role: RoleSchema }),
        response: { 200: Type.Object({ member: Type.Object({ userId: Type.String(), role: RoleSchema }) }) },
      },
    },
    async (req) => {
      await orgs.changeRole(req.tenant!.orgId, actorOf(req), req.params.userId, req.body.role, stampOf(req));
      return { member: { userId: req.params.userId, role: req.body.role } };
    },
  );

  // Any member may leave; removing someone else needs members:remove (the service checks it).
  r.delete(
    "/v1/orgs/:orgId/members/:userId",
    { schema: { tags, params: MemberParams, response: NoContent } },
    async (req, reply) => {
      await orgs.removeMember(req.tenant!.orgId, actorOf(req), req.params.userId, stampOf(req));
      return reply.code(204).send();
    },
  );
}

/** The signed-in user of a portal route (the route table admits only users there). */
function userOf(req: FastifyRequest): string {
  const id = req.principal?.userId;
  if (!id) throw new AppError("UNAUTHENTICATED");
  return id;
}
