import type { FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config/load.js";
import { AppError } from "./errors.js";

/** `session`: cookie routes, allowlisted origins with credentials (CORS-1). `public`: API-key routes, any origin, no credentials (CORS-2). */
export type CorsPolicy = "session" | "public";

export const ALLOWED_REQUEST_HEADERS =
  "authorization, content-type, idempotency-key, x-api-key, x-csrf-token, x-org-id, x-request-id";
const EXPOSED_HEADERS =
  "x-request-id, retry-after, ratelimit, ratelimit-policy, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";

/**
 * CORS as one precomputed decision per request. There is never a wildcard with credentials: a session
 * route echoes an origin only when it is in the allowlist (or is the server's own), and refuses every
 * other origin with 403, so an empty allowlist in production means no cross-origin access at all.
 */
export class Cors {
  private readonly allowed: ReadonlySet<string>;
  private readonly self: string;

  constructor(config: Config) {
    this.self = new URL(config.publicUrl).origin;
    this.allowed = new Set(config.http.corsOrigins);
  }

  /** Whether `origin` may make credentialed requests. */
  isAllowed(origin: string): boolean {
    return origin === this.self || this.allowed.has(origin);
  }

  /** Applies CORS to an actual (non-preflight) request; throws CORS_ORIGIN_DENIED for a refused origin. */
  apply(origin: string, policy: CorsPolicy, reply: FastifyReply): void {
    if (policy === "public") {
      reply
        .header("access-control-allow-origin", "*")
        .header("access-control-expose-headers", EXPOSED_HEADERS);
      return;
    }
    reply.header("vary", "Origin");
    if (!this.isAllowed(origin)) throw new AppError("CORS_ORIGIN_DENIED");
    reply
      .header("access-control-allow-origin", origin)
      .header("access-control-allow-credentials", "true")
      .header("access-control-expose-headers", EXPOSED_HEADERS);
  }

  /** Answers a preflight for a route whose policy is known; refused origins get 403 and no CORS headers. */
  preflight(
    request: FastifyRequest,
    reply: FastifyReply,
    policy: CorsPolicy,
    methods: string[],
  ): FastifyReply {
    const origin = request.headers.origin ?? "";
    if (policy === "public") reply.header("access-control-allow-origin", "*");
    else {
      reply.header("vary", "Origin");
      if (!this.isAllowed(origin)) throw new AppError("CORS_ORIGIN_DENIED");
      reply.header("access-control-allow-origin", origin).header("access-control-allow-credentials", "true");
    }
    return reply
      .header("access-control-allow-methods", methods.join(", "))
      .header("access-control-allow-headers", ALLOWED_REQUEST_HEADERS)
      .header("access-control-max-age", "600")
      .code(204)
      .send();
  }
}
