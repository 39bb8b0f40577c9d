import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { byRequest } from "../audit/actor.js";
import type { AuditService } from "../audit/service.js";
import type { PortalSignIn } from "../identity/capability.js";
import { NoContent, User } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import { templates } from "../mail/templates.js";
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

/** Passkeys of the signed-in user (`/v1/me/passkeys`) and sign-in with one (`/v1/auth/passkey`). */
export async function passkeyRoutes(
  app: FastifyInstance,
  opts: {
    passkeys: PasskeyService;
    portal: PortalSignIn;
    limits: AuthLimiters;
    identity: IdentityService;
    audit: AuditService;
  },
): Promise<void> {
  const { passkeys, portal, limits, identity, audit } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/me/passkeys",
    { schema: { tags, response: { 200: Type.Object({ passkeys: Type.Array(Passkey) }) } } },
    async (req) => ({ passkeys: (await passkeys.list(userOf(req))).map(view) }),
  );

  r.post(
    "/v1/me/passkeys/options",
    { schema: { tags, body: Type.Optional(Type.Object({})), response: { 200: Options } } },
    async (req) => {
      const p = req.principal!;
      const s = p.session!;
      const made = await passkeys.registrationOptions({
        id: userOf(req),
        email: p.email ?? "",
        name: s.name ?? null,
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
        response: { 201: Passkey },
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
      // Its owner hears of it: a passkey signs in alone, so one added by someone else must not stay quiet.
      const email = req.principal!.email;
      if (email) identity.mail(templates.passkeyAdded(email, row.name, req.ip));
      return reply.code(201).send(view(row));
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
      await passkeys.remove(userOf(req), req.params.id, stampOf(req));
      return reply.code(204).send();
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
        response: { 200: Type.Object({ user: User, csrfToken: Type.String() }) },
      },
    },
    async (req, reply) => {
      // Counted per client address like a password (AUTH-7): a refused passkey is a failed sign-in.
      const userId = await limitedAttempt([[limits.loginIp, addressKey(req.ip)]], () =>
        passkeys
          .authenticate(req.body.challengeId, req.body.credential as unknown as AuthenticationResponseJSON)
          .catch((err: unknown) => {
            // A refused passkey is a failed sign-in, in the platform log like a wrong password.
            audit.recordSoon(
              byRequest(req, {
                action: "auth.login_failed",
                actor: { type: "ANONYMOUS", id: null, email: null },
                metadata: {
                  reason: "passkey_refused",
                  method: "passkey",
                  credentialId: req.body.credential.id.slice(0, 100),
                },
              }),
            );
            throw err;
          }),
      );
      return portal.start(req, reply, userId, "passkey");
    },
  );
}
