import type { FastifyRequest } from "fastify";
import type { CredentialResolver } from "../auth/pipeline.js";
import type { Principal } from "../auth/principal.js";
import type { TokenService } from "./service.js";

declare module "../auth/principal.js" {
  interface PrincipalKinds {
    /** A Bearer access token (AUTH-9): its user, in one organisation, through its scopes. */
    access_token: true;
  }
}

/** A compact JWS: three base64url parts, the header a JSON object (`eyJ`). */
const JWS = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The JWT a request presents as `Authorization: Bearer …`; an API key (`bwk_…`) is another kind's. */
export function presentedAccessToken(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  // The scheme is case-insensitive (RFC 9110 11.1): `bearer eyJ…` is a token too, never a cookie request.
  if (!auth || !BEARER.test(auth)) return undefined;
  const value = auth.slice(7).trim();
  return value.startsWith("bwk_") ? undefined : value;
}

const BEARER = /^bearer /i;

/**
 * The access token credential (AUTH-9): a token that is not a well-formed JWS proves no one; one whose
 * signature, issuer, audience, type or expiry fails proves no one either (401, whatever the reason, so
 * nothing is learnt from the answer). The principal acts for the token's user in the token's
 * organisation, through its scopes and never beyond the role the user holds there at the time of the
 * request (`member`: a removed or demoted member's token stops at the tenant check).
 */
export function accessTokenCredential(tokens: TokenService): CredentialResolver {
  return {
    kind: "access_token",
    read: presentedAccessToken,
    resolve: async (value) => {
      if (value.length > 4096 || !JWS.test(value)) return null;
      const claims = await tokens.verifyAccess(value).catch(() => undefined);
      if (!claims) return null;
      const principal: Principal = {
        kind: "access_token",
        id: claims.userId,
        userId: claims.userId,
        email: null,
        tenancy: { kind: "organisation", orgId: claims.orgId, scopes: claims.scopes, member: true },
        via: "header",
        impersonator: undefined,
        session: undefined,
      };
      return principal;
    },
  };
}
