import type { FastifyRequest } from "fastify";
import { AppError } from "../http/errors.js";
import type { MfaService } from "../mfa/service.js";
import { type AuthLimiters, limitedAttempt, limitedSignIn } from "../ratelimit/auth-limits.js";
import { addressKey } from "../ratelimit/request-limits.js";
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
  ) {}

  async prove(
    req: FastifyRequest,
    email: string,
    password: string,
    code: string | undefined,
  ): Promise<UserRow> {
    const ip = addressKey(req.ip);
    const user = await limitedSignIn(this.limits, ip, () => this.signIn.authenticate(email, password, req));
    if (!(await this.mfa.isEnabled(user.id))) return user;
    if (code === undefined) throw new AppError("MFA_CODE_REQUIRED");
    await limitedAttempt(
      [
        [this.limits.mfaIp, ip],
        [this.limits.mfaAccount, user.id],
      ],
      async () => {
        if (!(await this.mfa.verify(user.id, code))) throw new AppError("MFA_CODE_INVALID");
      },
    );
    return user;
  }
}
