import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type { CredentialCheck } from "../identity/credentials.js";
import { Email, MfaCode, Password } from "../identity/schemas.js";
import { stampOf } from "../orgs/stamp.js";
import type { SigningKeys } from "./keys.js";
import type { TokenService } from "./service.js";

const tags = ["Tokens"];

const Jwk = Type.Object(
  {
    kty: Type.String(),
    crv: Type.String(),
    x: Type.String(),
    y: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.String(),
  },
  { description: "A public signing key (RFC 7517); `kid` is its RFC 7638 thumbprint." },
);

const OrgId = Type.String({
  pattern: "^org_[0-9A-Z]{26}$",
  description: "The organisation the tokens act in.",
  examples: ["org_01JD8X5K2M3N4P5Q6R7S8T9V0W"],
});
const Scope = Type.String({
  pattern: "^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$",
  maxLength: 64,
  examples: ["products:read"],
});
const RefreshToken = Type.String({
  minLength: 1,
  maxLength: 200,
  description: "A refresh token, `brt_…`.",
  examples: ["brt_q8Jf3kL0mN2pR5tV7xZ9bD1gH4jK6nQ8sU0wY2aC4e"],
});

const Pair = Type.Object({
  accessToken: Type.String({
    description: "A JWT (ES256, typ at+jwt) to send as `Authorization: Bearer …`.",
  }),
  tokenType: Type.Literal("Bearer"),
  expiresIn: Type.Integer({ description: "Seconds the access token is valid for." }),
  refreshToken: Type.String({ description: "Opaque, `brt_…`; works once, for a new pair." }),
  orgId: Type.String(),
  scopes: Type.Array(Type.String()),
});

/**
 * AUTH-9: the JWKS, tokens from a session, their refresh and revocation. Token answers are never cached
 * (`Cache-Control: no-store`, RFC 6749 5.1).
 */
export const tokenRoutes: FastifyPluginAsync<{
  keys: SigningKeys;
  tokens: TokenService;
  credentials: CredentialCheck;
}> = async (app, { keys, tokens, credentials }) => {
  app.get(
    "/.well-known/jwks.json",
    {
      schema: {
        tags,
        summary: "The keys that sign access tokens",
        description:
          "A JWK Set (RFC 7517) of ES256 keys: the one signing now, the next one (published before it signs, so a cached set already knows it) and recently retired ones, kept while tokens they signed can still be valid.",
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async (_request, reply) => {
      // Short enough that a retired key leaves caches soon after its overlap; the next key is already in.
      reply.header("cache-control", "public, max-age=300");
      return keys.jwks();
    },
  );

  app.post(
    "/v1/auth/token",
    {
      schema: {
        tags,
        body: Type.Object(
          {
            orgId: OrgId,
            scopes: Type.Optional(
              Type.Array(Scope, {
                minItems: 1,
                maxItems: 100,
                uniqueItems: true,
                description: "Leave out for every scope your role holds.",
                examples: [["products:read", "orders:read"]],
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Pair },
      },
    },
    async (req, reply) => {
      const body = req.body as { orgId: string; scopes?: string[] };
      const pair = await tokens.issue(req.principal!.userId!, body.orgId, body.scopes, stampOf(req));
      return reply.code(201).header("cache-control", "no-store").send(pair);
    },
  );

  app.post(
    "/v1/auth/token/credentials",
    {
      schema: {
        tags,
        body: Type.Object(
          {
            email: Email,
            password: Password,
            code: Type.Optional(
              Type.String({
                ...MfaCode,
                description:
                  "The current TOTP code or a backup code, when the account has two-factor authentication.",
                examples: ["123456"],
              }),
            ),
            orgId: OrgId,
            scopes: Type.Optional(Type.Array(Scope, { minItems: 1, maxItems: 100, uniqueItems: true })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Pair },
      },
    },
    async (req, reply) => {
      const body = req.body as {
        email: string;
        password: string;
        code?: string;
        orgId: string;
        scopes?: string[];
      };
      const user = await credentials.prove(req, body, async (u) => {
        await tokens.check(u.id, body.orgId, body.scopes);
      });
      const actor = { type: "USER" as const, id: user.id, email: user.email };
      const stamp = stampOf(req);
      const pair = await tokens.issue(user.id, body.orgId, body.scopes, (e) => stamp({ ...e, actor }));
      return reply.code(201).header("cache-control", "no-store").send(pair);
    },
  );

  app.post(
    "/v1/auth/token/refresh",
    {
      schema: {
        tags,
        body: Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false }),
        response: { 200: Pair },
      },
    },
    async (req, reply) => {
      const pair = await tokens.refresh((req.body as { refreshToken: string }).refreshToken, stampOf(req));
      // The refresh token proved who this is: the request's audit record names them (AUDIT-1).
      req.auditActor = { type: "USER", id: pair.userId, email: null };
      return reply.header("cache-control", "no-store").send(pair);
    },
  );

  app.post(
    "/v1/auth/token/revoke",
    {
      schema: {
        tags,
        body: Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false }),
        response: { 204: Type.Null({ description: "Done (also for a token already revoked or unknown)." }) },
      },
    },
    async (req, reply) => {
      await tokens.revoke((req.body as { refreshToken: string }).refreshToken, stampOf(req));
      return reply.code(204).send();
    },
  );
};
