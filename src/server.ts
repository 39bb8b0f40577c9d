import { createServer } from "node:net";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildApp, bulwarkMigrations } from "./app.js";
import type { Config } from "./config/load.js";
import { configSummary } from "./config/summary.js";
import { Database } from "./db/database.js";
import { waitForDatabase } from "./db/wait.js";
import { createLogger, type Logger } from "./log/logger.js";
import type { Extension } from "./orgs/extension.js";
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
  /**
   * `bulwark worker` (OPS-2): deliver webhooks and run background jobs, serve no HTTP. Several workers
   * and servers share one PostgreSQL queue.
   */
  readonly worker?: boolean;
  /**
   * `bulwark start --no-worker` (OPS-2): serve HTTP only; no scheduled job runs and no webhook is
   * delivered here (a `bulwark worker` does both). Default true.
   */
  readonly background?: boolean;
  /** The process's effective user id (tests); default `process.geteuid()` (undefined on Windows). */
  readonly uid?: number;
}

/** A start-up problem with one clear line to say (no stack trace). */
export class StartError extends Error {
  override name = "StartError";
}

/**
 * Fails fast, before anything else runs (migrations included), when the port is taken: a second server
 * on the same port must say so in one line, not after migrating. Port 0 (any free port) always passes.
 */
export async function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new StartError(
              `Port ${port} on ${host} is already in use (another Bulwark?); set PORT to a free port.`,
            )
          : err.code === "EACCES"
            ? new StartError(`Not allowed to listen on port ${port} on ${host}; choose a port above 1023.`)
            : err,
      ),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * OPS-2: in production, root is refused before anything opens, unless BULWARK_ALLOW_ROOT says the
 * operator knows (a user namespace, say). A process that is compromised then owns its data directory, not
 * the machine.
 */
export function assertNotRoot(config: Config, uid: number | undefined): void {
  if (config.production && uid === 0 && !config.allowRoot)
    throw new StartError(
      "Bulwark refuses to run as root in production: run it as an unprivileged user (the Dockerfile's USER does), or set BULWARK_ALLOW_ROOT=true if root here is not root on the machine.",
    );
}

/** Checks the port, opens storage, waits for it (OPS-1), migrates unless told not to, builds the app and listens. */
export async function start(config: Config, options: StartOptions = {}): Promise<Running> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  process.stderr.write(`\nBulwark starting\n${configSummary(config)}\n\n`);
  for (const w of config.warnings) log.warn(w);
  assertNotRoot(config, options.uid ?? process.geteuid?.());
  if (!options.worker) await assertPortFree(config.port, config.host);

  const db = Database.open(config, log);
  let redis: Redis | undefined;
  try {
    await waitForDatabase(db, config.database.waitSeconds, log);
    if (options.migrate !== false) {
      const applied = await db.migrate({ extra: bulwarkMigrations(options.extensions ?? []) });
      if (applied.length) log.info({ applied }, "migrations applied");
    }
    // Now as the app role: after a first migration it exists; without one, this names what is missing.
    await db.ping();
    redis = config.redisUrl ? connectRedis(config.redisUrl, log) : undefined;
    const app = await buildApp(config, {
      db,
      logger: log,
      extensions: options.extensions ?? [],
      background: options.worker || options.background !== false,
      ...(redis ? { redis } : {}),
    });
    if (options.routes) await options.routes(app);
    if (options.worker) {
      await app.ready();
      app.bulwark.service("webhookDispatcher").start();
      log.info({ pid: process.pid }, "Bulwark worker running");
      const close = async () => {
        await app.close();
        await db.close();
        await redis?.quit().catch(() => {});
      };
      let closing: Promise<void> | undefined;
      return { app, url: "", close: () => (closing ??= close()) };
    }
    const url = await app
      .listen({ port: config.port, host: config.host })
      .catch((err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE")
          throw new StartError(`Port ${config.port} on ${config.host} is already in use.`);
        throw err;
      });
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
