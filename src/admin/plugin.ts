import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import { nextCursor, pageParams } from "../http/paging.js";
import { Email, MfaCode, NoContent, Password } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import type { OrgService } from "../orgs/service.js";
import { type AuthLimiters, limitedSignIn } from "../ratelimit/auth-limits.js";
import { addressKey } from "../ratelimit/request-limits.js";
import { clearCookie, sessionCookie } from "../sessions/cookies.js";
import type { SessionService } from "../sessions/service.js";
import { adminEvents } from "./events.js";
import type { AdminService } from "./service.js";

const tags = ["admin"];

/**
 * The platform-admin surface (AUTH-6, AUTHZ-3): its own sign-in, its own cookie, and routes that only an
 * admin session opens. A tenant user's session is not a credential here, whatever it is worth elsewhere.
 */
export async function adminRoutes(
  app: FastifyInstance,
  opts: {
    config: Config;
    admins: AdminService;
    sessions: SessionService;
    limits: AuthLimiters;
    identity: IdentityService;
    orgs: OrgService;
  },
): Promise<void> {
  const { config, admins, sessions, limits, identity, orgs } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/admin/auth/login",
    {
      schema: {
        tags,
        body: Type.Object({ email: Email, password: Password, code: Type.Optional(MfaCode) }),
        response: {
          200: Type.Object({
            admin: Type.Object({ id: Type.String(), email: Type.String() }),
            csrfToken: Type.String(),
          }),
        },
      },
    },
    async (req, reply) => {
      const admin = await limitedSignIn(limits, addressKey(req.ip), () =>
        admins.authenticate(req.body.email, req.body.password, req.body.code, req),
      );
      const { token, row } = await sessions.create(
        admin.id,
        "admin",
        { ip: req.ip, userAgent: req.headers["user-agent"] },
        { record: (s) => adminEvents.loginSucceeded(req, admin, s) },
      );
      reply.header("set-cookie", sessionCookie(config, "admin", token));
      return { admin: { id: admin.id, email: admin.email }, csrfToken: sessions.csrfToken(row) };
    },
  );

  r.post(
    "/v1/admin/auth/logout",
    { schema: { tags, body: Type.Optional(Type.Object({})), response: NoContent } },
    async (req, reply) => {
      const session = req.principal?.session;
      if (session) {
        await sessions.revoke(session, { record: adminEvents.logout(req, session) });
        // An impersonation never outlives the admin session that started it (AUTHZ-4).
        await sessions.revokeImpersonations(session.user_id, {
          record: (ended) => ended.map((e) => adminEvents.impersonationStopped(req, e, "admin_signed_out")),
        });
      }
      return reply.header("set-cookie", clearCookie(config, "admin")).code(204).send();
    },
  );

  r.get(
    "/v1/admin/auth/session",
    {
      schema: {
        tags,
        summary: "Which platform admin is signed in, if any",
        description:
          "For the admin console: 200 with `signedIn: false` when no admin session is presented (a portal session is not one, AUTH-6), and the admin's current impersonation, if any.",
        response: {
          200: Type.Union([
            Type.Object({
              signedIn: Type.Literal(true),
              admin: Type.Object({ id: Type.String(), email: Type.String() }),
              impersonation: Type.Union([
                Type.Object({ userId: Type.String(), userEmail: Type.String(), expiresAt: Type.String() }),
                Type.Null(),
              ]),
              csrfToken: Type.String(),
            }),
            Type.Object({ signedIn: Type.Literal(false) }),
          ]),
        },
      },
    },
    async (req) => {
      const session = req.principal?.session;
      if (!session?.email) return { signedIn: false as const };
      const current = await sessions.currentImpersonation(session.user_id);
      const user = current ? await identity.findUser(current.user_id) : undefined;
      return {
        signedIn: true as const,
        admin: { id: session.user_id, email: session.email },
        impersonation:
          current && user
            ? {
                userId: user.id,
                userEmail: user.email,
                expiresAt: new Date(current.expires_at).toISOString(),
              }
            : null,
        csrfToken: sessions.csrfToken(session),
      };
    },
  );

  r.get(
    "/v1/admin/users",
    {
      schema: {
        tags,
        querystring: Type.Object({
          ...pageParams("^usr_[0-9A-Z]{26}$", 50),
          q: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 254,
              pattern: "^[^\\u0000]+$",
              description: "Part of the email address.",
            }),
          ),
        }),
        response: {
          200: Type.Object({
            users: Type.Array(
              Type.Object({
                id: Type.String(),
                email: Type.String(),
                emailVerified: Type.Boolean(),
                createdAt: Type.String(),
              }),
            ),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await identity.listUsers(limit, req.query.after, req.query.q);
      return {
        users: rows.map((u) => ({
          id: u.id,
          email: u.email,
          emailVerified: u.email_verified_at !== null,
          createdAt: new Date(u.created_at).toISOString(),
        })),
        nextCursor: nextCursor(rows, limit, (r) => r.id),
      };
    },
  );

  r.get(
    "/v1/admin/orgs",
    {
      schema: {
        tags,
        querystring: Type.Object({
          ...pageParams("^org_[0-9A-Z]{26}$", 50),
          q: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 100,
              pattern: "^[^\\u0000]+$",
              description: "Part of the name or the slug.",
            }),
          ),
        }),
        response: {
          200: Type.Object({
            orgs: Type.Array(
              Type.Object({
                id: Type.String(),
                name: Type.String(),
                slug: Type.String(),
                members: Type.Integer(),
                createdAt: Type.String(),
              }),
            ),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 50;
      const rows = await orgs.listAll(limit, req.query.after, req.query.q);
      return {
        orgs: rows.map((o) => ({
          id: o.id,
          name: o.name,
          slug: o.slug,
          members: Number(o.members),
          createdAt: new Date(o.created_at).toISOString(),
        })),
        nextCursor: nextCursor(rows, limit, (r) => r.id),
      };
    },
  );
}
