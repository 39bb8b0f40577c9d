import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import { type MfaService, PORTAL_STEPS } from "../mfa/service.js";
import { type AuthLimiters, enforce, limitedAttempt, limitedSignIn } from "../ratelimit/auth-limits.js";
import { addressKey } from "../ratelimit/request-limits.js";
import { clearCookie } from "../sessions/cookies.js";
import { userActor } from "./events.js";
import { Accepted, Email, MfaCode, NoContent, Password, StepMethods, Token, User } from "./schemas.js";
import { type IdentityService, normaliseEmail } from "./service.js";
import type { SignIn } from "./sign-in.js";

export interface IdentityRoutesOptions {
  readonly config: Config;
  readonly identity: IdentityService;
  readonly signIn: SignIn;
  readonly limits: AuthLimiters;
  readonly mfa: MfaService;
}

const SignedIn = Type.Object({ user: User, csrfToken: Type.String() });
const MfaRequired = Type.Object({
  mfaRequired: Type.Literal(true),
  challengeToken: Type.String(),
  methods: StepMethods,
});

const tags = ["auth"];

/** Sign-up, verification, sign-in, sign-out and password recovery: `/v1/auth/*`. */
export async function identityRoutes(app: FastifyInstance, opts: IdentityRoutesOptions): Promise<void> {
  const { config, identity, signIn, limits, mfa } = opts;

  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/auth/signup",
    {
      schema: { tags, body: Type.Object({ email: Email, password: Password }), response: { 202: Accepted } },
    },
    async (req, reply) => {
      await enforce(limits.signupIp, addressKey(req.ip));
      await identity.signup(req.body.email, req.body.password);
      // The same answer whether or not the address already had an account (no enumeration).
      return reply.code(202).send({ status: "verification_sent" });
    },
  );

  r.post(
    "/v1/auth/verify-email",
    { schema: { tags, body: Type.Object({ token: Token }), response: { 200: Type.Object({ user: User }) } } },
    async (req) => {
      const user = await limitedAttempt([[limits.tokenIp, addressKey(req.ip)]], () =>
        identity.verifyEmail(req.body.token),
      );
      // The mailed link proved who this is: the request's audit record names them (AUDIT-1).
      req.auditActor = userActor(user);
      return { user };
    },
  );

  r.post(
    "/v1/auth/verify-email/resend",
    { schema: { tags, body: Type.Object({ email: Email }), response: { 202: Accepted } } },
    async (req, reply) => {
      await enforce(limits.verifyIp, addressKey(req.ip));
      // Past the per-address limit the answer stays the same; only the mail is not sent.
      if ((await limits.verifyEmail.hit(normaliseEmail(req.body.email))).allowed)
        await identity.resendVerification(req.body.email);
      return reply.code(202).send({ status: "verification_sent" });
    },
  );

  r.post(
    "/v1/auth/login",
    {
      schema: {
        tags,
        body: Type.Object({ email: Email, password: Password }),
        response: { 200: Type.Union([SignedIn, MfaRequired]) },
      },
    },
    async (req, reply) => {
      const user = await limitedSignIn(limits, addressKey(req.ip), () =>
        signIn.authenticate(req.body.email, req.body.password, req),
      );
      // AUTH-8: with a second factor on, the password only earns a short-lived challenge, not a session.
      // Read fresh, not from the cache: a factor added a moment ago on another node is asked for.
      const methods = await mfa.methods(user.id);
      // The password proved who this is; the record of the request names them (AUDIT-1), even before
      // the second factor.
      req.auditActor = userActor(user);
      if (methods.length)
        return {
          mfaRequired: true as const,
          challengeToken: await mfa.createChallenge(user.id, "portal"),
          methods,
        };
      return signIn.open(req, reply, user, { secondFactor: false });
    },
  );

  r.post(
    "/v1/auth/mfa/verify",
    {
      schema: {
        tags,
        body: Type.Object({ challengeToken: Token, code: MfaCode }),
        response: { 200: SignedIn },
      },
    },
    async (req, reply) => {
      const account = await mfa.challengePrincipal(req.body.challengeToken);
      const step = await limitedAttempt(
        [[limits.mfaIp, addressKey(req.ip)], ...(account ? [[limits.mfaAccount, account] as const] : [])],
        () => mfa.redeemChallenge(req.body.challengeToken, req.body.code, PORTAL_STEPS, req),
      );
      const user = await identity.findUser(step.principalId);
      if (!user) throw new AppError("UNAUTHENTICATED");
      return signIn.open(req, reply, user, {
        secondFactor: true,
        factor: "totp",
        method: step.kind === "external" ? "external" : "password",
      });
    },
  );

  r.post(
    "/v1/auth/logout",
    { schema: { tags, body: Type.Optional(Type.Object({})), response: NoContent } },
    async (req, reply) => {
      const session = req.principal?.session;
      if (session) await signIn.signOut(req, session);
      return reply.header("set-cookie", clearCookie(config, "portal")).code(204).send();
    },
  );

  r.post(
    "/v1/auth/password/forgot",
    { schema: { tags, body: Type.Object({ email: Email }), response: { 202: Accepted } } },
    async (req, reply) => {
      await enforce(limits.resetIp, addressKey(req.ip));
      if ((await limits.resetEmail.hit(normaliseEmail(req.body.email))).allowed)
        await identity.forgotPassword(req.body.email);
      return reply.code(202).send({ status: "reset_mail_sent_if_account_exists" });
    },
  );

  r.post(
    "/v1/auth/password/reset",
    {
      schema: { tags, body: Type.Object({ token: Token, password: Password }), response: { 200: Accepted } },
    },
    async (req) => {
      await limitedAttempt([[limits.tokenIp, addressKey(req.ip)]], () =>
        identity.resetPassword(req.body.token, req.body.password, req),
      );
      return { status: "password_reset" };
    },
  );
}
