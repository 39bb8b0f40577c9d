import type { FastifyRequest } from "fastify";
import type { CredentialResolver } from "../auth/pipeline.js";
import { isWellFormedKey } from "./format.js";
import type { ApiKeyService } from "./service.js";

declare module "../auth/principal.js" {
  interface PrincipalKinds {
    /** An organisation's API key (KEY-1): bound to one organisation, acting through its scopes. */
    api_key: true;
  }
}

/**
 * The key a request presents, from `X-API-Key` or `Authorization: Bearer bwk_…`; undefined when it
 * presents none (another Bearer token is another kind's credential).
 */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-api-key"];
  if (typeof header === "string") return header;
  const auth = request.headers.authorization;
  // The scheme is case-insensitive (RFC 9110 11.1): `bearer bwk_…` is the key, never a cookie request.
  return auth && /^bearer bwk_/i.test(auth) ? auth.slice(7) : undefined;
}

/**
 * The API key credential (KEY-1…KEY-7). A value that is not a well-formed key (shape and CRC32) proves
 * no one, before any cache or database lookup; a real key is then checked by the service (live, pins).
 */
export function apiKeyCredential(keys: ApiKeyService): CredentialResolver {
  return {
    kind: "api_key",
    read: presentedKey,
    resolve: (value, request) => {
      if (!isWellFormedKey(value)) return null;
      const found = keys.lookup(value);
      if (found instanceof Promise) return found.then((k) => (k ? keys.admit(k, request) : null));
      return found ? keys.admit(found, request) : null;
    },
  };
}
