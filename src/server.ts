import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildApp } from "./app.js";
import type { Config } from "./config/load.js";
import { configSummary } from "./config/summary.js";
import { Database } from "./db/database.js";
import { waitForDatabase } from "./db/wait.js";
import { createLogger, type Logger } from "./log/logger.js";
import { type Extension, extensionMigrations } from "./orgs/extension.js";
import { connectRedis } from "./state/redis.js";

export interface Running {
  readonly app: FastifyInstance;
  readonly url: string;
  /** Graceful stop: refuse new connections, drain requests in flight, close pools (OPS-3). */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Apply pending migrations first (default true). */
  readonly migrate?: boolean;
  readonly log?: Logger;
  /** Library mode: register the embedding app's routes; they inherit every control. */
  readonly routes?: (app: FastifyInstance) => void | Promise<void>;
  /** Library mode: extensions (tenant routes, migrations, claims), e.g. the catalog example. */
  readonly extensions?: readonly Extension[];
}

/** Opens storage, waits for it (OPS-1), migrates unless told not to, builds the app and listens. */
export async function start(config: Config, options: StartOptions = {}): Promise<Running> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  process.stderr.write(`\nBulwark starting\n${configSummary(config)}\n\n`);
  for (const w of config.warnings) log.warn(w);

  const db = Database.open(config, log);
  let redis: Redis | undefined;
  try {
    await waitForDatabase(db, config.database.waitSeconds, log);
    if (options.migrate !== false) {
      const applied = await db.migrate({ extra: extensionMigrations(options.extensions ?? []) });
      if (applied.length) log.info({ applied }, "migrations applied");
    }
    redis = config.redisUrl ? connectRedis(config.redisUrl, log) : undefined;
    const app = await buildApp(config, {
      db,
      logger: log,
      extensions: options.extensions ?? [],
      ...(redis ? { redis } : {}),
    });
    if (options.routes) await options.routes(app);
    const url = await app.listen({ port: config.port, host: config.host });
    log.info({ url, publicUrl: config.publicUrl }, "Bulwark listening");
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        await app.close();
        await db.close();
        await redis?.quit().catch(() => {});
      })());
    return { app, url, close };
  } catch (err) {
    await db.close().catch(() => {});
    redis?.disconnect();
    throw err;
  }
}

/** Ties SIGTERM/SIGINT to a graceful close, bounded by SHUTDOWN_TIMEOUT_MS so a stuck request cannot hang a deploy. */
export function handleSignals(running: Running, config: Config, log: Logger): void {
  const stop = (signal: string): void => {
    log.info({ signal }, "shutting down: draining requests");
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, "drain timed out; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    running.close().then(
      () => {
        log.info("shutdown complete");
        process.exitCode = 0;
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
