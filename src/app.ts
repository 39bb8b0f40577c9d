import { existsSync, readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { Redis } from "ioredis";
import type { Migration } from "kysely";
import type { DestinationStream } from "pino";
import { adminCapability } from "./admin/capability.js";
import { apiKeysCapability } from "./apikeys/capability.js";
import { auditCapability } from "./audit/capability.js";
import { backupCapability } from "./backup/capability.js";
import { type Capability, capabilityMigrations } from "./capability.js";
import type { Config } from "./config/load.js";
import { consoleCapability } from "./console/capability.js";
import { createContext } from "./create-context.js";
import { dataKeysCapability } from "./datakeys/capability.js";
import type { Database } from "./db/database.js";
import type { MigrationContext } from "./db/migrations.js";
import { type ExternalOptions, externalCapability } from "./external/capability.js";
import { healthPlugin } from "./health/plugin.js";
import { registerHttpControls } from "./http/controls.js";
import { clientErrorHandler, sendError } from "./http/error-handler.js";
import { AppError } from "./http/errors.js";
import { securityHeaders } from "./http/headers.js";
import { installHttp } from "./http/plugin.js";
import { requestId } from "./http/request-id.js";
import { trustProxyFn } from "./http/trust-proxy.js";
import { AJV_OPTIONS, validatorFactory } from "./http/validation.js";
import { idempotencyCapability } from "./idempotency/capability.js";
import { identityCapability } from "./identity/capability.js";
import { jobsCapability } from "./jobs/capability.js";
import { createLogger, type Logger, lazyChild } from "./log/logger.js";
import { mailCapability } from "./mail/capability.js";
import type { Mailer } from "./mail/mailer.js";
import { observabilityPlugin } from "./metrics/plugin.js";
import { mfaCapability } from "./mfa/capability.js";
import { oidcCapability } from "./oidc/capability.js";
import { openapiPlugin } from "./openapi/plugin.js";
import { orgsCapability } from "./orgs/capability.js";
import { type Extension, extensionCapability } from "./orgs/extension.js";
import type { DenialSink } from "./orgs/tenant-check.js";
import { passkeysCapability } from "./passkeys/capability.js";
import { postureCapability } from "./posture/capability.js";
import { posturePlugin } from "./posture/plugin.js";
import { privacyCapability } from "./privacy/capability.js";
import { quotasCapability } from "./quotas/capability.js";
import { rateLimitCapability } from "./ratelimit/capability.js";
import { sessionsCapability } from "./sessions/capability.js";
import { tokensCapability } from "./tokens/capability.js";
import { trackingCapability } from "./tracking/capability.js";
import { uploadsCapability } from "./uploads/capability.js";
import { type WebhookOptions, webhooksCapability } from "./webhooks/capability.js";

/** The package version, from the nearest package.json (the module runs from src/ in tests, dist/src/ when built). */
export const VERSION: string = (() => {
  for (const rel of ["../package.json", "../../package.json"]) {
    const file = new URL(rel, import.meta.url);
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, "utf8")) as { name: string; version: string }).version;
  }
  return "0.0.0";
})();

export interface BuildOptions {
  /** An opened, migrated database. The caller owns it (and closes it). */
  readonly db: Database;
  /** A connected Redis client when configured. The caller owns it. */
  readonly redis?: Redis;
  /** Log destination; stdout (asynchronous) by default. Tests pass a stream to read every line. */
  readonly logStream?: DestinationStream;
  readonly logger?: Logger;
  /** Mail transport; by default SMTP (SMTP_URL) or .eml files in the data directory. */
  readonly mailer?: Mailer;
  /** Library mode: modules whose tenant routes inherit every control (their migrations run at start). */
  readonly extensions?: readonly Extension[];
  /** Where refused tenant actions go (AUTHZ-6); logged on the request's logger by default. */
  readonly denials?: DenialSink;
  /** The webhook dispatcher's resolver, clock and jitter (tests). */
  readonly webhooks?: WebhookOptions;
  /** How external sign-in reaches its providers (tests reach an HTTPS provider in-process). */
  readonly external?: ExternalOptions;
  /**
   * Whether this process runs background work: scheduled jobs and, unless WEBHOOK_WORKER is off, webhook
   * deliveries (default true). `bulwark start --no-worker` serves HTTP only (OPS-2).
   */
  readonly background?: boolean;
}

/**
 * Bulwark's capabilities in dependency order (each reaches only those before it, through their
 * services), then the embedding app's extensions. `migrations` reads the same list, so the server and
 * every CLI command know the same migrations.
 */
export function capabilities(
  options: Pick<
    BuildOptions,
    "mailer" | "extensions" | "denials" | "webhooks" | "external" | "background"
  > = {},
): Capability[] {
  const rest = [
    auditCapability,
    sessionsCapability,
    mfaCapability,
    identityCapability,
    passkeysCapability(),
    externalCapability(options.external),
    orgsCapability(options.denials),
    apiKeysCapability,
    tokensCapability(),
    oidcCapability(),
    quotasCapability,
    // After quotas: its claim is the last preHandler, so an answer no handler gave (a quota's 429) is
    // never stored and replayed.
    idempotencyCapability(),
    webhooksCapability(options.webhooks),
    uploadsCapability,
    backupCapability,
    adminCapability,
    consoleCapability(),
    ...(options.extensions ?? []).map(extensionCapability),
  ];
  // Before any capability opens a sealed value, start-up checks the keys against every sealed column.
  const sealed = rest.flatMap((c) => c.sealedFields ?? []);
  rest.push(privacyCapability(rest.flatMap((c) => c.personalData ?? [])));
  return [
    trackingCapability(VERSION),
    mailCapability(options.mailer),
    rateLimitCapability,
    jobsCapability(options.background),
    postureCapability,
    dataKeysCapability(sealed),
    ...rest,
  ];
}

/** Every migration Bulwark and the given extensions bring (the foundation's own run first, by name). */
export function bulwarkMigrations(
  extensions: readonly Extension[] = [],
): (ctx: MigrationContext) => Record<string, Migration> {
  return capabilityMigrations(capabilities({ extensions }));
}

/**
 * Builds the Bulwark application and never listens (`server.ts` does). Order matters: the HTTP layer
 * installs its route checks and hooks on the root instance first, so every route registered after it,
 * Bulwark's or a plugin's, inherits validation, headers, CORS, the HTTPS policy and the error envelope.
 */
export async function buildApp(config: Config, options: BuildOptions): Promise<FastifyInstance> {
  const tls = config.http.tls;
  const app = Fastify({
    loggerInstance:
      options.logger ??
      createLogger({ level: config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) }),
    genReqId: requestId,
    childLoggerFactory: (logger, bindings, opts) =>
      lazyChild(logger, bindings, opts as Record<string, unknown>),
    requestIdHeader: false,
    // Fastify's two lines per request are replaced by one access line (observability plugin): half the cost.
    logController: new LogController({ requestIdLogLabel: "requestId", disableRequestLogging: true }),
    trustProxy: trustProxyFn(config.http.trustedProxies),
    bodyLimit: config.http.bodyLimit,
    ajv: { customOptions: { ...AJV_OPTIONS } },
    schemaController: { compilersFactory: { buildValidator: validatorFactory() } },
    return503OnClosing: true,
    clientErrorHandler: clientErrorHandler(securityHeaders(config)),
    // Malformed URLs and over-long path parameters are answered by the router before any hook runs;
    // without this they would leave raw, header-less, path-echoing bodies (HDR-3, OBS-1).
    frameworkErrors: (err, request, reply) => {
      reply.headers(securityHeaders(config)).header("x-request-id", request.id);
      sendError(
        reply,
        request.id,
        new AppError(err.code === "FST_ERR_MAX_PARAM_LENGTH" ? "URI_TOO_LONG" : "BAD_REQUEST"),
      );
    },
    forceCloseConnections: "idle",
    ...(tls
      ? {
          https: {
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
            minVersion: "TLSv1.2" as const,
          },
        }
      : {}),
  }) as unknown as FastifyInstance;

  const ctx = createContext({ config, db: options.db, redis: options.redis, log: app.log });
  app.decorate("bulwark", ctx);

  const http = installHttp(app, config, ctx.routeTable);
  // The guard pipeline runs after the HTTP layer's checks (HTTPS policy, CORS), on every route.
  app.addHook("onRequest", ctx.guard.hook);
  await app.register(openapiPlugin, { version: VERSION, config });
  for (const capability of capabilities(options)) await capability.register(app, ctx);

  ctx.health.add({ name: "database", required: true, probe: async () => void (await options.db.ping()) });
  if (options.redis) {
    const redis = options.redis;
    ctx.health.add({ name: "redis", required: true, probe: async () => void (await redis.ping()) });
  }

  await app.register(observabilityPlugin, { config, metrics: ctx.metrics, posture: ctx.posture });
  await app.register(healthPlugin, { config, checks: ctx.health, posture: ctx.posture });
  await app.register(posturePlugin, {
    config,
    posture: ctx.posture,
    root: app,
    audit: ctx.service("audit"),
    db: options.db,
    version: VERSION,
  });

  http.finish();

  // OPS-3: a keep-alive connection whose request was still running at close becomes idle only after its
  // response; Fastify closes idle connections once, at the start. Keep closing them until the server has.
  app.addHook("preClose", (done) => {
    const timer = setInterval(() => app.server.closeIdleConnections(), 50);
    timer.unref();
    app.server.once("close", () => clearInterval(timer));
    done();
  });

  app.addHook("onClose", async () => ctx.bus.close());
  app.addHook("onReady", async () => {
    await ctx.bus.start(app.log);
    await options.db.refreshTenantTables();
    ctx.routeTable.finalize(ctx.guard.tenantKinds);
    ctx.guard.verify(ctx.routes);
    registerHttpControls(
      ctx.posture,
      config,
      // CORS-2: routes open to any origin, and those answering an API key (public for such requests).
      ctx.routes.filter(
        (r) =>
          (r.security.cors === "public" || r.security.accepts.includes("api_key")) && r.method !== "HEAD",
      ).length,
      options.db.engine,
    );
  });
  return app;
}
