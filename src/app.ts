import { existsSync, readFileSync } from "node:fs";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { Redis } from "ioredis";
import type { DestinationStream } from "pino";
import type { Config } from "./config/load.js";
import type { Database } from "./db/database.js";
import { HealthChecks } from "./health/checks.js";
import { healthPlugin } from "./health/plugin.js";
import { registerHttpControls } from "./http/controls.js";
import { sendError } from "./http/error-handler.js";
import { AppError } from "./http/errors.js";
import { securityHeaders } from "./http/headers.js";
import { installHttp } from "./http/plugin.js";
import { requestId } from "./http/request-id.js";
import { trustProxyFn } from "./http/trust-proxy.js";
import { AJV_OPTIONS } from "./http/validation.js";
import { registerIdentity } from "./identity/module.js";
import { createLogger, type Logger, lazyChild } from "./log/logger.js";
import type { Mailer } from "./mail/mailer.js";
import { observabilityPlugin } from "./metrics/plugin.js";
import { MetricsRegistry } from "./metrics/registry.js";
import { openapiPlugin } from "./openapi/plugin.js";
import { type Extension, TenantRouter } from "./orgs/extension.js";
import { registerOrgs } from "./orgs/module.js";
import { posturePlugin } from "./posture/plugin.js";
import { PostureRegistry } from "./posture/registry.js";
import { InvalidationBus } from "./state/bus.js";

/** The package version, from the nearest package.json (the module runs from src/ in tests, dist/src/ when built). */
export const VERSION: string = (() => {
  for (const rel of ["../package.json", "../../package.json"]) {
    const file = new URL(rel, import.meta.url);
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, "utf8")) as { name: string; version: string }).version;
  }
  return "0.0.0";
})();

/** What every capability receives: the frozen configuration and the shared services. */
export interface BulwarkContext {
  readonly config: Config;
  readonly db: Database;
  readonly redis: Redis | undefined;
  readonly posture: PostureRegistry;
  readonly metrics: MetricsRegistry;
  readonly health: HealthChecks;
  /** Cross-node cache invalidation (Redis pub/sub when configured). */
  readonly bus: InvalidationBus;
  /** Every route as registered (method, URL pattern, declared auth and action): for docs and test suites. */
  readonly routes: ReadonlyArray<{
    readonly method: string;
    readonly url: string;
    readonly auth?: string;
    readonly action?: string;
    readonly cors: string;
  }>;
}

declare module "fastify" {
  interface FastifyInstance {
    bulwark: BulwarkContext;
  }
}

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
    return503OnClosing: true,
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

  const ctx: BulwarkContext = {
    config,
    db: options.db,
    redis: options.redis,
    posture: new PostureRegistry(),
    metrics: new MetricsRegistry(),
    health: new HealthChecks(),
    bus: new InvalidationBus(options.redis),
    routes: [],
  };
  app.decorate("bulwark", ctx);

  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      (ctx.routes as Array<BulwarkContext["routes"][number]>).push({
        method: String(method),
        url: route.url,
        cors: route.config?.cors ?? "session",
        ...(route.config?.auth ? { auth: route.config.auth } : {}),
        ...(route.config?.action ? { action: route.config.action } : {}),
      });
    }
  });
  const http = installHttp(app, config);
  await app.register(openapiPlugin, { version: VERSION });
  const identity = await registerIdentity(app, ctx, app.log, options.mailer);
  await registerOrgs(app, ctx, app.log, identity);
  for (const ext of options.extensions ?? []) {
    await ext.routes?.(new TenantRouter(app, options.db), app);
    ext.controls?.(ctx.posture);
  }

  ctx.health.add({ name: "database", required: true, probe: async () => void (await options.db.ping()) });
  if (options.redis) {
    const redis = options.redis;
    ctx.health.add({ name: "redis", required: true, probe: async () => void (await redis.ping()) });
  }

  await app.register(observabilityPlugin, { config, metrics: ctx.metrics, posture: ctx.posture });
  await app.register(healthPlugin, { config, checks: ctx.health, posture: ctx.posture });
  await app.register(posturePlugin, { config, posture: ctx.posture });

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
    registerHttpControls(
      ctx.posture,
      config,
      ctx.routes.filter((r) => r.cors === "public" && r.method !== "HEAD").length,
    );
  });
  return app;
}
