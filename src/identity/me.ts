import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import type { SessionEntry } from "../sessions/cache.js";
import type { SessionService } from "../sessions/service.js";
import { identityEvents } from "./events.js";
import { sessionOf } from "./principal.js";
import { Accepted, NoContent, Password, User } from "./schemas.js";
import { type IdentityService, publicUser } from "./service.js";

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

const SignedInView = Type.Object({
  signedIn: Type.Literal(true),
  user: User,
  session: Type.Object({ id: Type.String(), expiresAt: Type.String() }),
  impersonation: Type.Union(
    [Type.Object({ adminId: Type.String(), expiresAt: Type.String() }), Type.Null()],
    { description: "Set while a platform admin acts as the user (AUTHZ-4): the console shows a banner." },
  ),
  csrfToken: Type.String(),
});

function signedInView(sessions: SessionService, session: SessionEntry) {
  if (!session.email) throw new AppError("UNAUTHENTICATED");
  const expiresAt = new Date(session.expires_at).toISOString();
  return {
    signedIn: true as const,
    user: {
      id: session.user_id,
      email: session.email,
      name: session.name ?? null,
      emailVerified: session.email_verified_at !== null,
    },
    session: { id: session.public_id, expiresAt },
    impersonation: session.impersonator_id ? { adminId: session.impersonator_id, expiresAt } : null,
    csrfToken: sessions.csrfToken(session),
  };
}

/** The signed-in user: profile, sessions (AUTH-5) and password change: `/v1/me*`. */
export async function meRoutes(
  app: FastifyInstance,
  opts: { identity: IdentityService; sessions: SessionService },
): Promise<void> {
  const { identity, sessions } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/me",
    { schema: { tags, response: { 200: SignedInView } } },
    // Served from the session cache: the session row carries the owner's public fields.
    async (req) => signedInView(sessions, sessionOf(req)),
  );

  r.get(
    "/v1/auth/session",
    {
      schema: {
        tags: ["auth"],
        summary: "Who is signed in, if anyone",
        description:
          "`GET /v1/me` for a page that does not know yet whether anyone is signed in: 200 with `signedIn: false` instead of a 401, so a sign-in page can ask without an error.",
        response: { 200: Type.Union([SignedInView, Type.Object({ signedIn: Type.Literal(false) })]) },
      },
    },
    async (req) => {
      const session = req.principal?.session;
      return session ? signedInView(sessions, session) : { signedIn: false as const };
    },
  );

  r.patch(
    "/v1/me",
    {
      schema: {
        tags,
        summary: "Change your name",
        description:
          "The name you go by in the console (display only; your email identifies you). null clears it.",
        body: Type.Object({
          name: Type.Union([Type.String({ minLength: 1, maxLength: 100, pattern: "\\S" }), Type.Null()]),
        }),
        response: { 200: Type.Object({ user: User }) },
      },
    },
    async (req) => {
      const session = sessionOf(req);
      // Control characters (including bidi overrides) have no place in a name shown to colleagues.
      const name = req.body.name === null ? null : req.body.name.trim().replace(/[\p{Cc}\p{Cf}]/gu, "");
      if (name !== null && name.length === 0)
        throw new AppError("VALIDATION_FAILED", undefined, [
          { in: "body", field: "name", message: "must not be blank" },
        ]);
      await identity.rename(session.user_id, name);
      const user = await identity.findUser(session.user_id);
      if (!user) throw new AppError("UNAUTHENTICATED");
      return { user: publicUser(user) };
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
      const revoked = await sessions.revokeByPublicId(session.user_id, session.kind, req.params.id, {
        record: (row) => identityEvents.sessionRevoked(req, row),
      });
      if (!revoked) throw new AppError("NOT_FOUND");
      return reply.code(204).send();
    },
  );

  r.delete(
    "/v1/me/sessions",
    { schema: { tags, response: { 200: Type.Object({ revoked: Type.Integer() }) } } },
    async (req) => {
      const session = sessionOf(req);
      const revoked = await sessions.revokeAll(session.user_id, session.kind, {
        keep: session,
        record: (n) => identityEvents.sessionsRevoked(req, session.user_id, n, { reason: "by_user" }),
      });
      return { revoked };
    },
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
      await identity.changePassword(sessionOf(req), req.body.currentPassword, req.body.newPassword, req);
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
