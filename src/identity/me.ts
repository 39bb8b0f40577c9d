import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import type { SessionService } from "../sessions/service.js";
import { sessionOf } from "./principal.js";
import { Accepted, NoContent, Password, User } from "./schemas.js";
import type { IdentityService } from "./service.js";

const tags = ["me"];
const SessionInfo = Type.Object({
  id: Type.String(),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  lastSeenAt: Type.String(),
  current: Type.Boolean(),
  impersonatedBy: Type.Union([Type.String(), Type.Null()], {
    description: "The platform admin acting as the user in this session (AUTHZ-4), or null.",
  }),
});
const SessionId = Type.Object({ id: Type.String({ pattern: "^ses_[0-9A-Z]{26}$" }) });

/** The signed-in user: profile, sessions (AUTH-5) and password change: `/v1/me*`. */
export async function meRoutes(
  app: FastifyInstance,
  opts: { identity: IdentityService; sessions: SessionService },
): Promise<void> {
  const { identity, sessions } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/me",
    {
      schema: {
        tags,
        response: {
          200: Type.Object({
            user: User,
            session: Type.Object({ id: Type.String(), expiresAt: Type.String() }),
            csrfToken: Type.String(),
          }),
        },
      },
    },
    async (req) => {
      // Served from the session cache: the session row carries the owner's public fields.
      const session = sessionOf(req);
      const userId = session.user_id;
      if (!session.email) throw new AppError("UNAUTHENTICATED");
      return {
        user: { id: userId, email: session.email, emailVerified: session.email_verified_at !== null },
        session: { id: session.public_id, expiresAt: new Date(session.expires_at).toISOString() },
        csrfToken: sessions.csrfToken(session),
      };
    },
  );

  r.get(
    "/v1/me/sessions",
    { schema: { tags, response: { 200: Type.Object({ sessions: Type.Array(SessionInfo) }) } } },
    async (req) => ({
      sessions: await sessions.list(sessionOf(req)),
    }),
  );

  r.delete(
    "/v1/me/sessions/:id",
    { schema: { tags, params: SessionId, response: NoContent } },
    async (req, reply) => {
      const session = sessionOf(req);
      if (!(await sessions.revokeByPublicId(session.user_id, session.kind, req.params.id)))
        throw new AppError("NOT_FOUND");
      return reply.code(204).send();
    },
  );

  r.delete(
    "/v1/me/sessions",
    { schema: { tags, response: { 200: Type.Object({ revoked: Type.Integer() }) } } },
    async (req) => ({
      revoked: await sessions.revokeAll(sessionOf(req).user_id, sessionOf(req).kind, sessionOf(req)),
    }),
  );

  r.post(
    "/v1/me/password",
    {
      schema: {
        tags,
        body: Type.Object({ currentPassword: Password, newPassword: Password }),
        response: { 200: Accepted },
      },
    },
    async (req) => {
      await identity.changePassword(sessionOf(req), req.body.currentPassword, req.body.newPassword);
      return { status: "password_changed" };
    },
  );

  r.post(
    "/v1/auth/reauth",
    {
      schema: { tags: ["auth"], body: Type.Object({ password: Password }), response: { 200: Accepted } },
    },
    async (req) => {
      await identity.confirmPassword(sessionOf(req), req.body.password);
      return { status: "reauthenticated" };
    },
  );
}
