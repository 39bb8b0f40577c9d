import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import type { MfaService } from "../mfa/service.js";
import { newId } from "../util/ids.js";
import { can, type Role } from "./permissions.js";
import { RoleSchema } from "./schemas.js";
import type { OrgStore } from "./store.js";
import type { OrganizationRow } from "./tables.js";

const tags = ["orgs"];
const user = { auth: "user" } as const;
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

/** A URL-safe slug from a name: lower-case ASCII letters, digits and single dashes. */
export function slugify(name: string): string {
  const s = name
    .normalize("NFKD")
    .replace(/[^\w\s-]/g, "")
    .toLowerCase()
    .replace(/[\s_-]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 48);
  return s || "org";
}

/** Organisations and memberships (AUTHZ-1): `/v1/orgs*`. */
export async function orgRoutes(
  app: FastifyInstance,
  opts: { orgs: OrgStore; mfa: MfaService },
): Promise<void> {
  const { orgs, mfa } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/orgs",
    {
      config: user,
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
      const now = Date.now();
      const org: OrganizationRow = {
        id: newId("org", now),
        name: req.body.name.trim(),
        slug: req.body.slug ?? slugify(req.body.name),
        require_mfa: 0,
        created_at: now,
        updated_at: now,
      };
      if (!(await orgs.create(org, req.auth!.userId)))
        throw new AppError("CONFLICT", `The slug "${org.slug}" is taken.`);
      return reply.code(201).send({ org: view(org, "OWNER") });
    },
  );

  r.get(
    "/v1/orgs",
    { config: user, schema: { tags, response: { 200: Type.Object({ orgs: Type.Array(Org) }) } } },
    async (req) => ({
      orgs: (await orgs.listForUser(req.auth!.userId)).map((o) => view(o, o.role)),
    }),
  );

  r.get(
    "/v1/orgs/:orgId",
    {
      config: { ...user, action: "org:read" },
      schema: { tags, params: OrgParams, response: { 200: Type.Object({ org: Org }) } },
    },
    async (req) => {
      const org = await orgs.find(req.tenant!.orgId);
      if (!org) throw new AppError("NOT_FOUND");
      return { org: view(org, req.tenant!.role) };
    },
  );

  r.patch(
    "/v1/orgs/:orgId",
    {
      config: { ...user, action: "org:update" },
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
      const { orgId, role } = req.tenant!;
      // Requiring MFA of everyone starts with yourself: it also keeps an owner from locking themselves out.
      if (req.body.requireMfa && !(await mfa.isEnabled(req.auth!.userId)))
        throw new AppError(
          "MFA_ENROLMENT_REQUIRED",
          "Turn on two-factor authentication for yourself (POST /v1/me/mfa/totp) before requiring it of the organisation.",
        );
      await orgs.update(
        orgId,
        {
          ...(req.body.name !== undefined ? { name: req.body.name.trim() } : {}),
          ...(req.body.requireMfa !== undefined ? { require_mfa: req.body.requireMfa ? 1 : 0 } : {}),
        },
        Date.now(),
      );
      const org = await orgs.find(orgId);
      if (!org) throw new AppError("NOT_FOUND");
      return { org: view(org, role) };
    },
  );

  r.get(
    "/v1/orgs/:orgId/members",
    {
      config: { ...user, action: "members:read" },
      schema: { tags, params: OrgParams, response: { 200: Type.Object({ members: Type.Array(Member) }) } },
    },
    async (req) => ({
      members: (await orgs.listMembers(req.tenant!.orgId)).map((m) => ({
        userId: m.user_id,
        email: m.email,
        role: m.role,
        joinedAt: new Date(m.created_at).toISOString(),
      })),
    }),
  );

  r.patch(
    "/v1/orgs/:orgId/members/:userId",
    {
      config: { ...user, action: "members:update" },
      schema: {
        tags,
        params: MemberParams,
        body: Type.Object({ role: RoleSchema }),
        response: { 200: Type.Object({ member: Type.Object({ userId: Type.String(), role: RoleSchema }) }) },
      },
    },
    async (req) => {
      const { orgId, role: callerRole } = req.tenant!;
      const target = await orgs.membership(orgId, req.params.userId);
      if (!target) throw new AppError("NOT_FOUND");
      // Only an OWNER makes an OWNER, or changes one.
      if ((req.body.role === "OWNER" || target.role === "OWNER") && callerRole !== "OWNER")
        throw new AppError("FORBIDDEN", "Only an owner can grant or change the owner role.");
      const result = await orgs.changeMember(orgId, req.params.userId, req.body.role);
      if (result === "not_found") throw new AppError("NOT_FOUND");
      if (result === "last_owner") throw new AppError("LAST_OWNER");
      return { member: { userId: req.params.userId, role: req.body.role } };
    },
  );

  // Any member may leave (members:read is every role's); removing someone else needs members:remove.
  r.delete(
    "/v1/orgs/:orgId/members/:userId",
    { config: { ...user, action: "members:read" }, schema: { tags, params: MemberParams } },
    async (req, reply) => {
      const { orgId, role: callerRole } = req.tenant!;
      const self = req.params.userId === req.auth!.userId;
      const target = await orgs.membership(orgId, req.params.userId);
      if (!target) throw new AppError("NOT_FOUND");
      if (!self && !can(callerRole, "members:remove"))
        throw new AppError("FORBIDDEN", `Your role (${callerRole}) does not allow members:remove.`);
      if (!self && target.role === "OWNER" && callerRole !== "OWNER")
        throw new AppError("FORBIDDEN", "Only an owner can remove an owner.");
      const result = await orgs.changeMember(orgId, req.params.userId, null);
      if (result === "last_owner") throw new AppError("LAST_OWNER");
      if (result === "not_found") throw new AppError("NOT_FOUND");
      return reply.code(204).send();
    },
  );
}
