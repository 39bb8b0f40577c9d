import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { byRequest } from "../audit/actor.js";
import type { AuditService } from "../audit/service.js";
import { AppError } from "../http/errors.js";
import type { PortalSignIn } from "../identity/capability.js";
import { sessionOf } from "../identity/principal.js";
import { NoContent, Password, Token, User } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import { templates } from "../mail/templates.js";
import { type MfaService, PORTAL_STEPS } from "../mfa/service.js";
import { stampOf } from "../orgs/stamp.js";
import { type AuthLimiters, enforce, limitedAttempt } from "../ratelimit/auth-limits.js";
import { addressKey } from "../ratelimit/request-limits.js";
import type { PasskeyService } from "./service.js";
import type { PasskeyRow } from "./tables.js";

const tags = ["passkeys"];
const CHALLENGE_ID = "^wac_[0-9A-Z]{26}$";
const ChallengeId = Type.String({ pattern: CHALLENGE_ID, examples: ["wac_01JD8X5K2M3N4P5Q6R7S8T9V0W"] });
const PasskeyId = Type.Object({
  id: Type.String({ pattern: "^[A-Za-z0-9_-]{16,1366}$", examples: ["bWFkZS11cC1jcmVkZW50aWFsLWlk"] }),
});
const Name = Type.String({ minLength: 1, maxLength: 60, examples: ["Work laptop"] });
const B64 = Type.String({ maxLength: 16_384, pattern: "^[A-Za-z0-9_-]*$", examples: ["AAAA"] });
/** The browser's answer, as `PublicKeyCredential.toJSON()` (and @simplewebauthn/browser) gives it. */
const Credential = (response: Record<string, ReturnType<typeof Type.Optional> | typeof B64>) =>
  Type.Object(
    {
      id: B64,
      rawId: B64,
      type: Type.Literal("public-key"),
      response: Type.Object(response, { additionalProperties: true }),
      clientExtensionResults: Type.Object({}, { additionalProperties: true }),
      authenticatorAttachment: Type.Optional(Type.String({ maxLength: 40, examples: ["platform"] })),
    },
    { additionalProperties: true },
  );
const Registration = Credential({
  clientDataJSON: B64,
  attestationObject: B64,
  transports: Type.Optional(
    Type.Array(Type.String({ maxLength: 20, examples: ["internal"] }), { maxItems: 10 }),
  ),
});
const Assertion = Credential({
  clientDataJSON: B64,
  authenticatorData: B64,
  signature: B64,
  userHandle: Type.Optional(B64),
});
const Options = Type.Object({
  challengeId: Type.String(),
  options: Type.Record(Type.String(), Type.Unknown(), {
    description:
      "For navigator.credentials (PublicKeyCredential.parse…OptionsFromJSON, or @simplewebauthn/browser).",
  }),
});
const Passkey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  deviceType: Type.String({
    description: "`singleDevice`, or `multiDevice` for a passkey synced across devices.",
  }),
  backedUp: Type.Boolean(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
const view = (p: PasskeyRow) => ({
  id: p.id,
  name: p.name,
  deviceType: p.device_type,
  backedUp: p.backed_up === 1,
  createdAt: new Date(p.created_at).toISOString(),
  lastUsedAt: p.last_used_at === null ? null : new Date(p.last_used_at).toISOString(),
});

const userOf = (req: FastifyRequest) => req.principal!.userId!;
const SignedIn = Type.Object({ user: User, csrfToken: Type.String() });

/**
 * Passkeys of the signed-in user (`/v1/me/passkeys`), sign-in with one alone (`/v1/auth/passkey`), and
 * one as the second factor after a password (`/v1/auth/mfa/passkey`).
 */
export async function passkeyRoutes(
  app: FastifyInstance,
  opts: {
    passkeys: PasskeyService;
    portal: PortalSignIn;
    limits: AuthLimiters;
    identity: IdentityService;
    audit: AuditService;
    mfa: MfaService;
  },
): Promise<void> {
  const { passkeys, portal, limits, identity, audit, mfa } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  /** A refused passkey is a failed sign-in, in the platform log like a wrong password. */
  const refusal = (req: FastifyRequest & { body: { credential: { id: string } } }, userId?: string) =>
    audit.recordSoon(
      byRequest(req, {
        action: "auth.login_failed",
        // Nobody is proved until the passkey is (a password alone is half a sign-in): anonymous, as there.
        actor: { type: "ANONYMOUS", id: null, email: null },
        entity: userId ? { type: "user", id: userId } : null,
        metadata: {
          reason: "passkey_refused",
          method: "passkey",
          ...(userId ? { secondFactor: true } : {}),
          credentialId: req.body.credential.id.slice(0, 100),
        },
      }),
    );

  r.get(
    "/v1/me/passkeys",
    { schema: { tags, response: { 200: Type.Object({ passkeys: Type.Array(Passkey) }) } } },
    async (req) => ({ passkeys: (await passkeys.list(userOf(req))).map(view) }),
  );

  r.post(
    "/v1/me/passkeys/options",
    {
      schema: {
        tags,
        summary: "Start adding a passkey",
        description:
          "The password typed again (as for turning TOTP on): a passkey becomes a second factor, so a session alone, even a fresh one, cannot add one.",
        body: Type.Object({ password: Password }),
        response: { 200: Options },
      },
    },
    async (req) => {
      const p = req.principal!;
      const user = await identity.confirmPassword(sessionOf(req), req.body.password);
      const made = await passkeys.registrationOptions({
        id: user.id,
        email: user.email,
        name: p.session?.name ?? null,
      });
      return { challengeId: made.challengeId, options: { ...made.options } };
    },
  );

  r.post(
    "/v1/me/passkeys",
    {
      schema: {
        tags,
        body: Type.Object({ challengeId: ChallengeId, name: Name, credential: Registration }),
        response: {
          201: Type.Composite([
            Passkey,
            Type.Object({
              backupCodes: Type.Optional(
                Type.Array(Type.String(), {
                  description:
                    "With the account's first second factor: its 10 single-use backup codes, shown this once.",
                }),
              ),
            }),
          ]),
        },
      },
    },
    async (req, reply) => {
      const row = await passkeys.register(
        userOf(req),
        req.body.challengeId,
        req.body.credential as unknown as RegistrationResponseJSON,
        req.body.name,
        stampOf(req),
      );
      // The account's first second factor comes with its backup codes: losing the device never locks out.
      const backupCodes = await mfa.factorAdded(row.user_id, req);
      // Its owner hears of it: a passkey signs in alone, so one added by someone else must not stay quiet.
      const email = req.principal!.email;
      if (email) identity.mail(templates.passkeyAdded(email, row.name, req.ip));
      return reply.code(201).send({ ...view(row), ...(backupCodes ? { backupCodes } : {}) });
    },
  );

  r.patch(
    "/v1/me/passkeys/:id",
    { schema: { tags, params: PasskeyId, body: Type.Object({ name: Name }), response: NoContent } },
    async (req, reply) => {
      await passkeys.rename(userOf(req), req.params.id, req.body.name);
      return reply.code(204).send();
    },
  );

  r.delete(
    "/v1/me/passkeys/:id",
    { schema: { tags, params: PasskeyId, response: NoContent } },
    async (req, reply) => {
      const old = await passkeys.remove(userOf(req), req.params.id, stampOf(req));
      // The last second factor gone takes the backup codes with it, recorded as MFA off.
      const none = await mfa.factorRemoved(old.user_id, req);
      const email = req.principal!.email;
      if (email) identity.mail(templates.passkeyRemoved(email, old.name, req.ip, none));
      return reply.code(204).send();
    },
  );

  /** A live sign-in step's account, or TOKEN_INVALID: the passkey step is only for that account. */
  const stepOwner = async (challengeToken: string) => {
    const userId = await mfa.challengePrincipal(challengeToken);
    if (!userId) throw new AppError("TOKEN_INVALID", "This sign-in step expired or was used; sign in again.");
    return userId;
  };

  r.post(
    "/v1/auth/mfa/passkey/options",
    {
      schema: {
        tags,
        summary: "Passkey options for the second-factor step",
        description:
          "After a password sign-in answered `mfaRequired` with `passkey` among its methods: options for `navigator.credentials.get` naming that account's passkeys.",
        body: Type.Object({ challengeToken: Token }),
        response: { 200: Options },
      },
    },
    async (req) => {
      await enforce(limits.passkeyOptionsIp, addressKey(req.ip));
      const made = await passkeys.authenticationOptions(await stepOwner(req.body.challengeToken));
      return { challengeId: made.challengeId, options: { ...made.options } };
    },
  );

  r.post(
    "/v1/auth/mfa/passkey",
    {
      schema: {
        tags,
        summary: "Finish a sign-in with a passkey as the second factor",
        body: Type.Object({ challengeToken: Token, challengeId: ChallengeId, credential: Assertion }),
        response: { 200: SignedIn },
      },
    },
    async (req, reply) => {
      const account = await mfa.challengePrincipal(req.body.challengeToken);
      // Limited like a code at the same step (AUTH-7): per address, and per account when the step is live.
      await limitedAttempt(
        [[limits.mfaIp, addressKey(req.ip)], ...(account ? [[limits.mfaAccount, account] as const] : [])],
        async () => {
          if (!account)
            throw new AppError("TOKEN_INVALID", "This sign-in step expired or was used; sign in again.");
          const userId = await passkeys
            .authenticate(req.body.challengeId, req.body.credential as unknown as AuthenticationResponseJSON)
            .catch((err: unknown) => {
              refusal(req, account);
              throw err;
            });
          if (userId !== account) {
            refusal(req, account);
            throw new AppError("PASSKEY_REFUSED");
          }
        },
      );
      const step = await mfa.completeChallenge(req.body.challengeToken, PORTAL_STEPS, account!);
      return portal.start(
        req,
        reply,
        account!,
        step.kind === "external" ? "external+passkey" : "password+passkey",
      );
    },
  );

  r.post(
    "/v1/auth/passkey/options",
    { schema: { tags, body: Type.Optional(Type.Object({})), response: { 200: Options } } },
    async (req) => {
      // Each ceremony stores a challenge: bounded per address (expired ones are purged hourly).
      await enforce(limits.passkeyOptionsIp, addressKey(req.ip));
      const made = await passkeys.authenticationOptions();
      return { challengeId: made.challengeId, options: { ...made.options } };
    },
  );

  r.post(
    "/v1/auth/passkey",
    {
      schema: {
        tags,
        body: Type.Object({ challengeId: ChallengeId, credential: Assertion }),
        response: { 200: SignedIn },
      },
    },
    async (req, reply) => {
      // Counted per client address like a password (AUTH-7): a refused passkey is a failed sign-in.
      const userId = await limitedAttempt([[limits.loginIp, addressKey(req.ip)]], () =>
        passkeys
          .authenticate(req.body.challengeId, req.body.credential as unknown as AuthenticationResponseJSON)
          .catch((err: unknown) => {
            refusal(req);
            throw err;
          }),
      );
      return portal.start(req, reply, userId, "passkey");
    },
  );
}
