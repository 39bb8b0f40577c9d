import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import { isSelfCheck } from "../http/self-check.js";
import { accessFilter, accessLine } from "../log/access.js";
import { rawWriter } from "../log/logger.js";
import type { PostureRegistry } from "../posture/registry.js";
import type { MetricsRegistry } from "./registry.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
/** Any of these means a proxy (or a client pretending to be one) is in the path: not a direct loopback caller. */
const FORWARDING = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-cluster-client-ip",
];
const READS = new Set(["GET", "HEAD", "OPTIONS"]);
const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/**
 * OBS-1/OBS-2/OBS-5: one onResponse hook writes the access log line (request id, method, redacted URL,
 * route, status, duration; never headers or bodies) and records the request metrics; `/metrics` serves
 * them. In production `/metrics` answers a direct loopback caller (no forwarding header of any kind), or
 * the bearer token over HTTPS (direct TLS, or a trusted proxy that terminated it): a token sent over
 * plain HTTP from anywhere else is refused, since it has already crossed the network in clear.
 */
export const observabilityPlugin = fp(observability, { name: "bulwark-observability" });

/** Not encapsulated (fastify-plugin): its onResponse hook must see every route of the app. */
async function observability(
  app: FastifyInstance,
  opts: { config: Config; metrics: MetricsRegistry; posture: PostureRegistry },
): Promise<void> {
  const { config, metrics } = opts;
  const requests = metrics.counter("http_requests_total", "HTTP requests by method, route and status.", [
    "method",
    "route",
    "status",
  ]);
  const duration = metrics.histogram(
    "http_request_duration_seconds",
    "HTTP request latency by method and route.",
    ["method", "route"],
  );
  // Refusals by code: failed sign-ins and codes (INVALID_CREDENTIALS, MFA_CODE_INVALID), limits
  // (RATE_LIMITED), CSRF and permission refusals: what an operator alerts on.
  const refusals = metrics.counter("http_errors_total", "Error responses by route and error code.", [
    "route",
    "code",
  ]);
  const { posture } = opts;
  metrics.gauges(
    "bulwark_security_claim_holds",
    "The last live self-check of each security-page claim that has one: 1 holds, 0 does not (POST-3).",
    ["control", "title"],
    () =>
      posture.claims().flatMap((c) => {
        const outcome = posture.outcome(c);
        return outcome ? [[[c.id, c.title], outcome.holds ? 1 : 0] as const] : [];
      }),
  );
  const write = rawWriter(app.log);
  const logged = accessFilter(config);
  const started = Date.now();
  metrics.gauge("process_uptime_seconds", "Seconds since the process started serving.", () =>
    Math.round((Date.now() - started) / 1000),
  );

  app.addHook("onResponse", (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    // The server's own self-checks (a 404, refused origins, a bad key) are not traffic: counting or
    // logging them would page someone every few minutes.
    if (!isSelfCheck(request)) {
      requests.inc([request.method, route, String(reply.statusCode)]);
      duration.observe([request.method, route], reply.elapsedTime / 1000);
      if (request.errorCode !== undefined) refusals.inc([route, request.errorCode]);
      if (logged(request, reply)) write(accessLine(request, reply, route));
    }
    // AUTHZ-4: every write attempted while impersonating, allowed or refused, with both identities.
    const p = request.principal;
    if (p?.impersonator && !READS.has(request.method))
      request.log.warn(
        {
          impersonator: p.impersonator,
          userId: p.userId,
          method: request.method,
          route,
          status: reply.statusCode,
        },
        reply.statusCode < 400 ? "write while impersonating" : "write refused while impersonating",
      );
    done();
  });

  const tokenDigest = config.metricsToken ? digest(config.metricsToken) : null;
  app.get(
    "/metrics",
    { schema: { tags: ["health"], summary: "Prometheus metrics" } },
    async (request, reply) => {
      if (config.production && !allowed(request)) throw new AppError("METRICS_FORBIDDEN");
      return reply.type("text/plain; version=0.0.4; charset=utf-8").send(metrics.render());
    },
  );

  function allowed(request: FastifyRequest): boolean {
    const direct = FORWARDING.every((h) => request.headers[h] === undefined);
    if (direct && LOOPBACK.has(request.socket.remoteAddress ?? "")) return true;
    const auth = request.headers.authorization;
    // Compare digests in constant time, so response timing says nothing about how much of a token matched.
    return (
      tokenDigest !== null &&
      request.protocol === "https" &&
      auth?.startsWith("Bearer ") === true &&
      timingSafeEqual(digest(auth.slice(7)), tokenDigest)
    );
  }

  opts.posture.register({
    id: "OBS-1",
    title: "Request ids and stable error codes",
    claim:
      "Every request has an id, accepted from or returned in X-Request-Id, present in every log line and error body; errors carry stable codes and never a stack trace.",
    enabled: true,
  });
  opts.posture.register({
    id: "OBS-2",
    title: "Structured, redacted logs",
    claim:
      "Logs are structured JSON lines. Secrets are redacted at any depth: fields named like one (passwords, tokens, cookies, authorization headers, API keys, secrets, backup codes), any value in the format of Bulwark's own secrets wherever it appears (the message included), and secret query parameters in URLs.",
    settings: { level: config.logLevel },
    enabled: config.logLevel !== "silent",
  });
  opts.posture.register({
    id: "OBS-5",
    title: "Prometheus metrics",
    claim: config.production
      ? "GET /metrics exposes request counts, latency histograms and error responses by route and error code (every code: failed sign-ins, rate-limited requests, CSRF refusals and the rest) only to a direct loopback caller (no proxy in between) or to the holder of the metrics token over HTTPS; the token is refused over plain HTTP."
      : "GET /metrics exposes request counts, latency histograms and error responses by route and error code (every code: failed sign-ins, rate-limited requests, CSRF refusals and the rest).",
    settings: { protectedByToken: Boolean(config.metricsToken) },
    enabled: true,
  });
}
