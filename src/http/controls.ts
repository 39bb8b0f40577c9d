import type { Config } from "../config/load.js";
import type { Engine } from "../db/database.js";
import type { PostureRegistry } from "../posture/registry.js";
import { securityHeaders } from "./headers.js";
import { httpProbes } from "./probes.js";

/** The cross-origin isolation sentence of HDR-3, as configured (each header can be switched off). */
function isolation(h: Config["http"]): string {
  const on = [
    h.coop !== "off" ? `Cross-Origin-Opener-Policy ${h.coop}` : "",
    h.coep !== "off" ? `Cross-Origin-Embedder-Policy ${h.coep}` : "",
    h.corp !== "off" ? `Cross-Origin-Resource-Policy ${h.corp}` : "",
  ].filter(Boolean);
  return on.length
    ? `Cross-origin isolation: ${on.join(", ")}.`
    : "No cross-origin isolation headers are sent (switched off).";
}

/** The security-page claims of the HTTP layer, each stated with the configured values it runs with. */
export function registerHttpControls(
  posture: PostureRegistry,
  config: Config,
  publicRoutes: number,
  engine: Engine,
): void {
  const h = config.http;
  const headers = securityHeaders(config);
  const probes = httpProbes(config, headers);
  posture.register({
    id: "HDR-1",
    title: "HTTPS only",
    claim:
      h.httpsPolicy === "reject"
        ? "Plain HTTP requests are refused with 400; every route is served only over HTTPS, except the health probes (/health, /health/live: no credentials, no secrets) and /metrics, which over plain HTTP answers only a direct loopback caller."
        : "Plain HTTP requests are redirected to HTTPS with 308 at the public address (loopback development hosts excepted); the health probes and /metrics are answered over plain HTTP.",
    settings: {
      policy: h.httpsPolicy,
      trustedProxies: h.trustedProxies.length ? [...h.trustedProxies] : ["none"],
    },
    enabled: h.httpsPolicy !== "off",
    probe: probes.https,
  });
  posture.register({
    id: "HDR-2",
    title: "HTTP Strict Transport Security",
    claim: `Browsers are told to use HTTPS only, for ${Math.round(h.hsts.maxAge / 86400)} days, including subdomains, with preload.`,
    settings: { "strict-transport-security": headers["strict-transport-security"] ?? "" },
    enabled: h.hsts.enabled,
    probe: probes.hsts,
  });
  const listed = [
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-embedder-policy",
    "cross-origin-resource-policy",
  ];
  posture.register({
    id: "HDR-3",
    title: "Security headers on every response",
    claim: `Every response, errors and static files included, carries a strict Content-Security-Policy, X-Frame-Options DENY, nosniff, a strict referrer policy and a Permissions-Policy disabling camera, microphone, geolocation and topics; no X-Powered-By. ${isolation(h)}`,
    settings: Object.fromEntries(listed.filter((k) => headers[k]).map((k) => [k, headers[k]!])),
    enabled: true,
    probe: probes.headers,
  });
  posture.register({
    id: "HDR-4",
    title: "Built-in TLS",
    claim: "The server terminates TLS itself, with TLS 1.2 as the minimum version.",
    settings: { minVersion: "TLSv1.2" },
    enabled: Boolean(h.tls),
  });
  posture.register({
    id: "CORS-1",
    title: "Credentialed cross-origin access only from listed origins",
    claim: h.corsOrigins.length
      ? "Session routes accept cross-origin requests, with credentials, only from the listed origins; never a wildcard with credentials."
      : "Session routes refuse every cross-origin request: no origin is allowed.",
    settings: { allowedOrigins: h.corsOrigins.length ? [...h.corsOrigins] : ["none"] },
    enabled: true,
    probe: probes.cors,
  });
  posture.register({
    id: "CORS-2",
    title: "Public API open to any origin, without credentials",
    claim: "API-key routes answer any origin without credentials: the key, not the origin, protects them.",
    settings: { routes: publicRoutes },
    enabled: publicRoutes > 0,
  });
  posture.register({
    id: "INPUT-1",
    title: "Schema validation of every request",
    claim:
      "Every route validates params, query and body against a schema; unknown properties are rejected with 400 and field-level errors. A POST, PUT or PATCH route without a body schema cannot start, and a route that declares no body refuses a request carrying one, whatever its method. JSON bodies are taken as typed (never coerced); only path and query parameters are converted from text.",
    enabled: true,
  });
  posture.register({
    id: "INPUT-2",
    title: "Parameterised SQL only",
    claim:
      "Every SQL statement goes through a typed, parameterised query layer (Kysely); no SQL is built from request strings.",
    enabled: true,
  });
  posture.register({
    id: "INPUT-3",
    title: "No array smuggling in query strings",
    claim: "A repeated query parameter is not coerced into a scalar: it fails validation with 400.",
    enabled: true,
  });
  posture.register({
    id: "INPUT-5",
    title: "Body limits and prototype-pollution-safe parsing",
    claim: `JSON bodies are limited to ${h.bodyLimit} bytes and ${h.jsonMaxDepth} levels of nesting; __proto__ and constructor.prototype keys are refused; only application/json is accepted.`,
    settings: { bodyLimitBytes: h.bodyLimit, jsonMaxDepth: h.jsonMaxDepth },
    enabled: true,
  });
  posture.register({
    id: "OPS-1",
    title: "Waits for and reconnects to the database",
    claim: `Start-up waits up to ${config.database.waitSeconds} s for the database; a database restart is survived without restarting the server.`,
    settings: { waitSeconds: config.database.waitSeconds },
    // The embedded SQLite file has nothing to wait for or reconnect to: the claim is PostgreSQL's.
    enabled: engine === "postgres",
  });
  posture.register({
    id: "OPS-3",
    title: "Graceful shutdown",
    claim: `On SIGTERM the server stops accepting connections and drains requests in flight for up to ${config.shutdownTimeoutMs / 1000} s before closing its pools.`,
    settings: { drainTimeoutMs: config.shutdownTimeoutMs },
    enabled: true,
  });
  posture.register({
    id: "DATA-4",
    title: "Secrets from the environment, strength-checked",
    claim:
      "Secrets come from the environment, secret files or the configuration file (BULWARK_CONFIG), never from the database or the code; production refuses to start with a missing, short or known-default secret.",
    enabled: config.production,
  });
}
