import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import { MfaCode, Password } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import { templates } from "../mail/templates.js";
import type { MfaService } from "./service.js";

const tags = ["me"];
const BackupCodes = Type.Object({ backupCodes: Type.Array(Type.String()) });

/**
 * Self-service TOTP (AUTH-8): start behind the password gate, confirm with a first code, regenerate
 * backup codes, disable with password and code. Each change is mailed to the account.
 */
export async function mfaRoutes(
  app: FastifyInstance,
  opts: { identity: IdentityService; mfa: MfaService },
): Promise<void> {
  const { identity, mfa } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Second factors stay the user's own: an impersonating admin cannot touch them (AUTHZ-4).
  const config = { auth: "user", noImpersonation: true } as const;

  r.post(
    "/v1/me/mfa/totp",
    {
      config,
      schema: {
        tags,
        body: Type.Object({ password: Password }),
        response: {
          200: Type.Object({ secret: Type.String(), otpauthUri: Type.String(), qrCode: Type.String() }),
        },
      },
    },
    async (req) => {
      const user = await identity.confirmPassword(req.auth!.session, req.body.password);
      return mfa.startEnrolment(user.id, user.email);
    },
  );

  r.post(
    "/v1/me/mfa/totp/confirm",
    {
      config: { ...config, reauth: true },
      schema: { tags, body: Type.Object({ code: MfaCode }), response: { 200: BackupCodes } },
    },
    async (req) => {
      const backupCodes = await mfa.confirmEnrolment(req.auth!.userId, req.body.code);
      const user = await identity.findUser(req.auth!.userId);
      if (user) identity.mail(templates.mfaChanged(user.email, "turned on"));
      return { backupCodes };
    },
  );

  r.delete(
    "/v1/me/mfa/totp",
    { config, schema: { tags, body: Type.Object({ password: Password, code: MfaCode }) } },
    async (req, reply) => {
      const user = await identity.confirmPassword(req.auth!.session, req.body.password);
      if (!(await mfa.verify(user.id, req.body.code))) throw new AppError("MFA_CODE_INVALID");
      await mfa.disable(user.id);
      identity.mail(templates.mfaChanged(user.email, "turned off"));
      return reply.code(204).send();
    },
  );

  r.post(
    "/v1/me/mfa/backup-codes",
    { config, schema: { tags, body: Type.Object({ password: Password }), response: { 200: BackupCodes } } },
    async (req) => {
      const user = await identity.confirmPassword(req.auth!.session, req.body.password);
      if (!(await mfa.isEnabled(user.id)))
        throw new AppError("CONFLICT", "Two-factor authentication is off.");
      const backupCodes = await mfa.regenerateBackupCodes(user.id);
      identity.mail(templates.mfaChanged(user.email, "given new backup codes"));
      return { backupCodes };
    },
  );
}
