import { Type } from "@sinclair/typebox";

export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$" });
/** Length bounds only; the policy (AUTH-2) is checked by the service, with field errors. */
export const Password = Type.String({ minLength: 1, maxLength: 1024 });
export const Token = Type.String({ minLength: 10, maxLength: 200, pattern: "^[A-Za-z0-9_-]+$" });

/** A 6-digit TOTP code or a backup code (`xxxxx-xxxxx`). */
export const MfaCode = Type.String({ minLength: 6, maxLength: 16, pattern: "^[0-9A-Za-z-]+$" });

export const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()], { description: "The name the person goes by, if set." }),
  emailVerified: Type.Boolean(),
});
export const Accepted = Type.Object({ status: Type.String() });
/** A route that answers 204: declared, so /openapi.json states it (never Swagger's default 200). */
export const NoContent = { 204: { type: "null", description: "Done; no content." } };

/** What a sign-in step accepts (AUTH-8, AUTH-13). */
export const StepMethods = Type.Array(
  Type.Union([Type.Literal("totp"), Type.Literal("passkey"), Type.Literal("backup_code")]),
  {
    description:
      "What completes the step: `totp` and `backup_code` (a code, to /v1/auth/mfa/verify), `passkey` (/v1/auth/mfa/passkey).",
  },
);
