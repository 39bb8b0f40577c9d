import type { FastifyRequest } from "fastify";
import type { AuditService } from "../audit/service.js";
import { AppError } from "../http/errors.js";
import type { MfaService } from "../mfa/service.js";
import { type AuthLimiters, limitedAttempt, limitedSignIn } from "../ratelimit/auth-limits.js";
import { addressKey } from "../ratelimit/request-limits.js";
import { identityEvents } from "./events.js";
import type { SignIn } from "./sign-in.js";
import type { UserRow } from "./tables.js";

/**
 * The password and second factor in one request, for callers that hold no session (a command-line tool
 * minting its own tokens, AUTH-9): the same checks and limits as the sign-in page's two steps. The
 * password is counted per client address before it is checked (AUTH-7); with two-factor authentication
 * on, a right password without a code gets MFA_CODE_REQUIRED (what the page's first step says too), and
 * a code is counted per address and per account like the sign-in page's second step, and spent.
 */
export class CredentialCheck {
  constructor(
    private readonly signIn: SignIn,
    private readonly mfa: MfaService,
    private readonly limits: AuthLimiters,
    private readonly audit: AuditService,
  ) {}

  /**
   * The user behind the password and code, then `authorized`: the caller's own checks (the organisation
   * and scopes), run only once every factor is proved, so the password alone never reveals whether the
   * account belongs to an organisation or its role there. (A one-time backup code is therefore spent
   * even when those checks then refuse.) Refusals and the success are in the platform log like the page's.
   */
  async prove(
    req: FastifyRequest,
    input: { email: string; password: string; code?: string | undefined; orgId: string },
    authorized: (user: UserRow) => Promise<void>,
  ): Promise<UserRow> {
    const ip = addressKey(req.ip);
    const user = await limitedSignIn(this.limits, ip, () =>
      this.signIn.authenticate(input.email, input.password, req),
    );
    // Read fresh, as the sign-in page does: a factor added a moment ago on another node counts.
    const methods = await this.mfa.methods(user.id);
    const mfaOn = methods.length > 0;
    if (mfaOn) {
      const refuse = (reason: "mfa_code_missing" | "mfa_code_invalid" | "mfa_passkey_only") =>
        this.audit.recordSoon(identityEvents.loginFailed(req, user.email, reason, user.id));
      // A passkey needs a browser ceremony this route cannot hold: such an account mints from a session.
      if (!methods.includes("totp") && !methods.includes("backup_code")) {
        refuse("mfa_passkey_only");
        throw new AppError(
          "MFA_CODE_REQUIRED",
          "This account's second factor is a passkey, which this route cannot take (a backup code can): sign in, then use POST /v1/auth/token.",
        );
      }
      if (input.code === undefined) {
        refuse("mfa_code_missing");
        throw new AppError("MFA_CODE_REQUIRED");
      }
      const code = input.code;
      await limitedAttempt(
        [
          [this.limits.mfaIp, ip],
          [this.limits.mfaAccount, user.id],
        ],
        async () => {
          if (await this.mfa.verify(user.id, code)) return;
          refuse("mfa_code_invalid");
          throw new AppError("MFA_CODE_INVALID");
        },
      );
    }
    await authorized(user);
    this.audit.recordSoon(identityEvents.credentialsSucceeded(req, user, mfaOn, input.orgId));
    return user;
  }
}
