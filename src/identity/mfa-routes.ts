import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import { templates } from "../mail/templates.js";
import type { MfaService } from "../mfa/service.js";
import { type AuthLimiters, limitedAttempt } from "../ratelimit/auth-limits.js";
import { sessionOf } from "./principal.js";
import { MfaCode, NoContent, Password, StepMethods } from "./schemas.js";
import type { IdentityService } from "./service.js";

const tags = ["me"];
const BackupCodes = Type.Object({ backupCodes: Type.Array(Type.String()) });

/**
 * Self-service TOTP (AUTH-8): start behind the password gate, confirm with a first code; regenerate
 * backup codes or disable only with the password AND a current second factor (TOTP or backup code), so a
 * password alone can never remove or replace the second factor. Every code check is limited per account
 * (AUTH-7). Each change is mailed to the account. Second factors stay the user's own: the route table
 * closes these routes to an impersonating admin (AUTHZ-4).
 */
export async function mfaRoutes(
  app: FastifyInstance,
  opts: { identity: IdentityService; mfa: MfaService; limits: AuthLimiters },
): Promise<void> {
  const { identity, mfa, limits } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  /** Checks a current second factor of `userId` under the per-account code limit. */
  const secondFactor = (userId: string, code: string) =>
    limitedAttempt([[limits.codeCheck, userId]], async () => {
      if (!(await mfa.verify(userId, code))) throw new AppError("MFA_CODE_INVALID");
    });

  r.get(
    "/v1/me/mfa",
    {
      schema: {
        tags,
        summary: "Second-factor status",
        description:
          "Whether TOTP is on, what a sign-in step accepts (empty: no second factor), and how many unused backup codes are left.",
        response: {
          200: Type.Object({ totp: Type.Boolean(), methods: StepMethods, backupCodesLeft: Type.Integer() }),
        },
      },
    },
    async (req) => mfa.status(sessionOf(req).user_id),
  );

  r.post(
    "/v1/me/mfa/totp",
    {
      schema: {
        tags,
        body: Type.Object({ password: Password }),
        response: {
          200: Type.Object({ secret: Type.String(), otpauthUri: Type.String(), qrCode: Type.String() }),
        },
      },
    },
    async (req) => {
      const user = await identity.confirmPassword(sessionOf(req), req.body.password);
      return mfa.startEnrolment(user.id, user.email);
    },
  );

  r.post(
    "/v1/me/mfa/totp/confirm",
    {
      schema: { tags, body: Type.Object({ code: MfaCode }), response: { 200: BackupCodes } },
    },
    async (req) => {
      const userId = sessionOf(req).user_id;
      const backupCodes = await limitedAttempt([[limits.codeCheck, userId]], () =>
        mfa.confirmEnrolment(userId, req.body.code, req),
      );
      const user = await identity.findUser(sessionOf(req).user_id);
      if (user) identity.mail(templates.mfaChanged(user.email, "turned on"));
      return { backupCodes };
    },
  );

  r.delete(
    "/v1/me/mfa/totp",
    { schema: { tags, body: Type.Object({ password: Password, code: MfaCode }), response: NoContent } },
    async (req, reply) => {
      const user = await identity.confirmPassword(sessionOf(req), req.body.password);
      await secondFactor(user.id, req.body.code);
      await mfa.disable(user.id, req);
      identity.mail(templates.mfaChanged(user.email, "turned off"));
      return reply.code(204).send();
    },
  );

  r.post(
    "/v1/me/mfa/backup-codes",
    {
      schema: {
        tags,
        body: Type.Object({ password: Password, code: MfaCode }),
        response: { 200: BackupCodes },
      },
    },
    async (req) => {
      const user = await identity.confirmPassword(sessionOf(req), req.body.password);
      if (!(await mfa.isEnabled(user.id))) throw new AppError("MFA_NOT_ENABLED");
      await secondFactor(user.id, req.body.code);
      const backupCodes = await mfa.regenerateBackupCodes(user.id, req);
      identity.mail(templates.mfaChanged(user.email, "given new backup codes"));
      return { backupCodes };
    },
  );
}
