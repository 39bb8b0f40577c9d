import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import { sessionOf } from "../identity/principal.js";
import { NoContent } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import { clearCookie, sessionCookie } from "../sessions/cookies.js";
import type { SessionService } from "../sessions/service.js";
import { adminEvents } from "./events.js";

const tags = ["admin"];

/**
 * Impersonation (AUTHZ-4): a platform admin acts as a tenant user to debug, for a limited time (default
 * 30 minutes, at most 60), with a stated reason. It opens a portal session for the user that carries the
 * admin's id: every response says so, credentials and second factors are out of reach, and start and
 * stop are recorded with both identities. Admins are never a target: only accounts in `users` are.
 */
export async function impersonationRoutes(
  app: FastifyInstance,
  opts: { config: Config; identity: IdentityService; sessions: SessionService },
): Promise<void> {
  const { config, identity, sessions } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/admin/impersonations",
    {
      schema: {
        tags,
        body: Type.Object({
          userId: Type.String({ pattern: "^usr_[0-9A-Za-z]{1,40}$" }),
          reason: Type.String({ minLength: 10, maxLength: 500 }),
          minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
        }),
        response: {
          201: Type.Object({ userId: Type.String(), expiresAt: Type.String(), csrfToken: Type.String() }),
        },
      },
    },
    async (req, reply) => {
      const admin = sessionOf(req);
      const user = await identity.findUser(req.body.userId);
      if (!user) throw new AppError("NOT_FOUND");
      const minutes = req.body.minutes ?? 30;
      const { token, row } = await sessions.create(
        user.id,
        "portal",
        { ip: req.ip, userAgent: req.headers["user-agent"] },
        {
          impersonatorId: admin.user_id,
          ttlMs: minutes * 60_000,
          // AUDIT-2: the start is recorded with the session it opens, or not at all.
          record: (s) => adminEvents.impersonationStarted(req, user, s, { reason: req.body.reason, minutes }),
        },
      );
      req.log.warn(
        {
          event: "impersonation.start",
          adminId: admin.user_id,
          adminEmail: admin.email,
          userId: user.id,
          userEmail: user.email,
          reason: req.body.reason,
          minutes,
        },
        "impersonation started",
      );
      reply.header("set-cookie", sessionCookie(config, "portal", token));
      return reply.code(201).send({
        userId: user.id,
        expiresAt: new Date(row.expires_at).toISOString(),
        csrfToken: sessions.csrfToken(row),
      });
    },
  );

  r.delete(
    "/v1/admin/impersonations/current",
    { schema: { tags, response: NoContent } },
    async (req, reply) => {
      const admin = sessionOf(req);
      const users = await sessions.revokeImpersonations(admin.user_id, {
        record: (ended) => ended.map((e) => adminEvents.impersonationStopped(req, e, "stopped")),
      });
      if (users.length === 0) throw new AppError("NOT_FOUND");
      req.log.warn(
        {
          event: "impersonation.stop",
          adminId: admin.user_id,
          adminEmail: admin.email,
          userIds: users,
        },
        "impersonation stopped",
      );
      return reply.header("set-cookie", clearCookie(config, "portal")).code(204).send();
    },
  );
}
