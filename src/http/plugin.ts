import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import FindMyWay, { type HTTPMethod } from "find-my-way";
import type { EffectiveSecurity } from "../auth/requirements.js";
import type { RouteTable } from "../auth/table.js";
import type { Config } from "../config/load.js";
import {
  acceptsHeaderCredential,
  announcesHeaderCredential,
  Cors,
  presentsHeaderCredential,
} from "./cors.js";
import { installErrorHandler, installNotFound, sendError } from "./error-handler.js";
import { AppError } from "./errors.js";
import { securityHeaders } from "./headers.js";
import { installJsonParser } from "./json.js";
import { selfCheckOverHttps } from "./self-check.js";
import { enforceRouteSchemas } from "./validation.js";

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

/**
 * The HTTP hardening layer, installed on the root instance before any route: route checks (schemas, and
 * the route's row of the route table, attached to its config), the JSON parser, one onRequest hook
 * (request id, security headers, HTTPS policy, CORS), the error handler, 405s and CORS preflights. One
 * hook instead of four keeps the per-request cost to a few property writes.
 */
export function installHttp(app: FastifyInstance, config: Config, table: RouteTable): { finish(): void } {
  const headers = securityHeaders(config);
  const cors = new Cors(config);
  const policy = config.http.httpsPolicy;
  // Redirects go to the configured public host, never to the request's Host (an open redirect otherwise).
  const publicHost = new URL(config.publicUrl).host;
  // A mirror of the route table that can answer "which methods exist for this path?" (405, preflight).
  const mirror = FindMyWay({ ignoreTrailingSlash: false });

  app.addHook("onRoute", (route) => {
    enforceRouteSchemas(route);
    const methods = (Array.isArray(route.method) ? route.method : [route.method]) as HTTPMethod[];
    // A HEAD route Fastify derives from a GET arrives with the GET's row already attached.
    const attached = route.config?.guard;
    const security = attached
      ? table.record(String(methods[0]), route.url, attached)
      : table.resolve(String(methods[0]), route.url, route.config?.security);
    for (const m of methods.slice(1)) table.record(m, route.url, security);
    route.config = { ...(route.config ?? {}), guard: security };
    for (const m of methods) {
      if (m === "OPTIONS") continue;
      try {
        mirror.on(m, route.url, () => {}, { security });
      } catch {
        // The same path registered with constraints twice; the first registration is enough for lookups.
      }
    }
  });

  installJsonParser(app, config.http.jsonMaxDepth);

  const methodsFor = (url: string): string[] => {
    const path = url.split("?", 1)[0] ?? url;
    const found: string[] = [];
    for (const m of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const)
      if (mirror.find(m, path)) found.push(m);
    return found;
  };
  installErrorHandler(app);

  app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, done) => {
    if (selfCheckOverHttps(request)) (request.raw.socket as { encrypted?: boolean }).encrypted = true;
    reply.headers(headers);
    reply.header("x-request-id", request.id);
    const security = request.routeOptions.config.guard;
    // What a credential opens (or a sign-in answers: a session's CSRF token) is never kept by a browser
    // or a shared cache.
    if (security && (security.accepts.length > 0 || security.rate === "auth"))
      reply.header("cache-control", "no-store");
    if (policy !== "off" && request.protocol !== "https" && security?.https !== "exempt") {
      const host = request.headers.host ?? "";
      if (policy === "reject") return done(new AppError("HTTPS_REQUIRED"));
      if (!LOOPBACK_HOST.test(host)) {
        reply.redirect(`https://${publicHost}${request.url}`, 308);
        return;
      }
    }
    const origin = request.headers.origin;
    if (origin !== undefined && request.method !== "OPTIONS") {
      try {
        // CORS-2: an API-key request is a public API request, whatever the route's session policy.
        const policy =
          security &&
          (security.cors === "public" ||
            (acceptsHeaderCredential(security.accepts) && presentsHeaderCredential(request.headers)))
            ? "public"
            : "session";
        cors.apply(origin, policy, reply, request.headers.host);
      } catch (err) {
        return done(err as Error);
      }
    }
    done();
  });

  // Preflights for every path: the policy is the target route's, looked up in the mirror.
  // A preflight carries the actual request's query string (a signed link's, a page's): bounded, never read.
  const anyQuery = { type: "object", additionalProperties: true };
  app.options("/*", { schema: { hide: true, querystring: anyQuery } }, (request, reply) => {
    const path = request.url.split("?", 1)[0] ?? "/";
    const methods = methodsFor(path);
    const wanted = String(request.headers["access-control-request-method"] ?? "").toUpperCase();
    if (methods.length === 0) return sendError(reply, request.id, new AppError("NOT_FOUND"));
    if (!request.headers.origin || !methods.includes(wanted)) {
      return reply
        .code(204)
        .header("allow", [...methods, "OPTIONS"].join(", "))
        .send();
    }
    const target = (
      mirror.find(wanted as HTTPMethod, path)?.store as { security: EffectiveSecurity } | undefined
    )?.security;
    const policy =
      target &&
      (target.cors === "public" ||
        (acceptsHeaderCredential(target.accepts) &&
          announcesHeaderCredential(request.headers["access-control-request-headers"])))
        ? "public"
        : "session";
    return cors.preflight(request, reply, policy, methods);
  });

  return { finish: () => installNotFound(app, methodsFor) };
}
