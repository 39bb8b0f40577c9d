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
/**
 * Principal kinds whose credential the caller sets in a header on purpose (an API key, an access
 * token). A request presenting one, on a route accepting it, is answered as a public API request (CORS-2):
 * any origin, never with credentials, so a browser never sends a cookie along with it.
 */
const HEADER_KINDS: ReadonlySet<string> = new Set(["api_key", "access_token"]);

/** Whether a route accepts a header credential kind. */
export const acceptsHeaderCredential = (accepts: readonly string[]): boolean =>
  accepts.some((k) => HEADER_KINDS.has(k));

/**
 * Whether a request presents a header credential: exactly what the API-key and access-token credentials
 * read (`X-API-Key`, `Authorization: Bearer bwk_…`, `Authorization: Bearer eyJ…`). Any other Bearer
 * value is no credential of a header kind, so it cannot turn a cookie request into a public one; and a
 * request presenting one is proved by it or refused (401), never by a cookie sent along.
 */
export function presentsHeaderCredential(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers["x-api-key"] !== undefined) return true;
  const auth = headers.authorization;
  // An API key, or an access token (a compact JWS: its header is a JSON object, so it starts `eyJ`).
  return typeof auth === "string" && /^bearer (bwk_|eyJ)/i.test(auth);
}

/** Whether a preflight announces a header credential in Access-Control-Request-Headers. */
export function announcesHeaderCredential(requested: string | string[] | undefined): boolean {
  const list = String(requested ?? "")
    .toLowerCase()
    .split(",")
    .map((h) => h.trim());
  return list.includes("x-api-key") || list.includes("authorization");
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d{1,5})?$/;

export class Cors {
  private readonly allowed: ReadonlySet<string>;
  private readonly self: string;
  private readonly loopbackSelf: boolean;

  constructor(config: Config) {
    this.self = new URL(config.publicUrl).origin;
    this.allowed = new Set(config.http.corsOrigins);
    this.loopbackSelf = !config.production;
  }

  /**
   * Whether `origin` may make credentialed requests. Outside production, a page the server itself served
   * on a loopback address (`http://127.0.0.1:<port>` when PUBLIC_URL says localhost) is same-origin: the
   * browser's Origin names exactly the loopback Host it sent the request to, which no other site's page
   * can produce.
   */
  isAllowed(origin: string, host?: string): boolean {
    if (origin === this.self || this.allowed.has(origin)) return true;
    return this.loopbackSelf && host !== undefined && LOOPBACK.test(host) && origin === `http://${host}`;
  }

  /** Applies CORS to an actual (non-preflight) request; throws CORS_ORIGIN_DENIED for a refused origin. */
  apply(origin: string, policy: CorsPolicy, reply: FastifyReply, host?: string): void {
    if (policy === "public") {
      reply
        .header("access-control-allow-origin", "*")
        .header("access-control-expose-headers", EXPOSED_HEADERS);
      return;
    }
    reply.header("vary", "Origin");
    if (!this.isAllowed(origin, host)) throw new AppError("CORS_ORIGIN_DENIED");
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
      if (!this.isAllowed(origin, request.headers.host)) throw new AppError("CORS_ORIGIN_DENIED");
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
