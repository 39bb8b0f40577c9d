import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type { SigningKeys } from "./keys.js";

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

/** `GET /.well-known/jwks.json` (AUTH-9): the public keys access tokens are verified with. */
export const tokenRoutes: FastifyPluginAsync<{ keys: SigningKeys }> = async (app, { keys }) => {
  app.get(
    "/.well-known/jwks.json",
    {
      schema: {
        tags: ["Tokens"],
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
};
