import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Migration } from "kysely";
import pg from "pg";
import { buildApp, bulwarkMigrations } from "../src/app.js";
import { PUBLIC } from "../src/auth/requirements.js";
import { type Config, loadConfig } from "../src/config/load.js";
import { Database } from "../src/db/database.js";
import type { MigrationContext } from "../src/db/migrations.js";
import type { ExternalOptions } from "../src/external/capability.js";
import { createLogger } from "../src/log/logger.js";
import type { Mailer } from "../src/mail/mailer.js";
import type { Extension } from "../src/orgs/extension.js";
import { connectRedis } from "../src/state/redis.js";
import type { WebhookOptions } from "../src/webhooks/capability.js";

/** The route-table row of the ad-hoc routes tests add under /test/: public, general tier. */
const TEST_ROUTE = PUBLIC;

/** One scratch data directory per test process (mail files land here when no SMTP_URL is set). */
const DATA_DIR = mkdtempSync(join(tmpdir(), "bulwark-test-"));

/** Set in CI (.ci/run): the same suites then run on PostgreSQL and Redis instead of SQLite and memory. */
export const PG_URL = process.env.TEST_DATABASE_URL;
export const REDIS_URL = process.env.TEST_REDIS_URL;
export const ENGINE = PG_URL ? "postgres" : "sqlite";

export const silentLog = createLogger({ level: "silent" });

/** A test configuration: the `test` profile (development rules, random secret, no files) plus overrides. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    BULWARK_DATA_DIR: DATA_DIR,
    // With TEST_REDIS_URL every app of the suite runs with Redis as its shared state (OPS-4). The
    // invalidation channels (src/state/bus.ts) are global in Redis, whatever the key prefix, but their
    // messages name random ids, so concurrent files and runs cannot disturb each other's caches.
    ...(REDIS_URL ? { REDIS_URL } : {}),
    // Rate-limit counters live in Redis with TEST_REDIS_URL: each app gets keys of its own, so test files
    // running at once never count each other's requests (two nodes of one test share theirs on purpose).
    REDIS_PREFIX: `bw_t_${randomBytes(6).toString("hex")}:`,
    // The API limits are out of the way of tests about something else (every inject comes from one
    // address); the rate-limit tests set the limits they prove.
    RATE_LIMIT_IP_PER_MINUTE: "1000000",
    RATE_LIMIT_KEY_PER_MINUTE: "1000000",
    RATE_LIMIT_USER_PER_MINUTE: "1000000",
    RATE_LIMIT_ORG_PER_MINUTE: "1000000",
    RATE_LIMIT_TIERS: "general=1000000/1m,sensitive=1000000/1m,admin=1000000/1m,export=1000000/1m",
    ...env,
  });
}

/** Production settings that pass every start-up check, for tests of production behaviour. */
export const PRODUCTION_ENV: Record<string, string> = {
  NODE_ENV: "production",
  PUBLIC_URL: "https://app.example.org",
  BULWARK_SECRET: "q7Vd2mX9pL4rT8wZ1cF6hJ3nB5kS0yGe",
  DATA_KEYS: "k1:2pG1uJtQ0n1cQmBq8vX3Yz5s7Rk9LwE4aHf6Dd0Cb1U=",
  SECURITY_CONTACT: "mailto:security@example.org",
  CORS_ORIGINS: "https://console.example.org",
  LOG_LEVEL: "silent",
};

export type ExtraMigrations = ((ctx: MigrationContext) => Record<string, Migration>) | undefined;

/** Bulwark's migrations plus the extensions': what a server with these extensions runs. */
export const migrationsFor = (extensions: readonly Extension[] = []): ExtraMigrations =>
  bulwarkMigrations(extensions);

export interface TestDb {
  readonly db: Database;
  readonly schema: string;
  /** Runs SQL as the connecting (owner) user, outside the app role: for set-up and for proving RLS. */
  admin(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  cleanup(): Promise<void>;
}

/**
 * A migrated database for one test file: SQLite in memory, or, with TEST_DATABASE_URL, a PostgreSQL
 * schema of its own (`bw_t_<random>`) so concurrent runs and files never see each other's rows.
 */
export async function testDb(more?: ExtraMigrations): Promise<TestDb> {
  const core = bulwarkMigrations();
  const extra: ExtraMigrations = (ctx) => ({ ...core(ctx), ...more?.(ctx) });
  if (!PG_URL) {
    const db = Database.sqlite(":memory:");
    await db.migrate({ extra });
    await db.refreshTenantTables();
    return {
      db,
      schema: "main",
      admin: async () => {
        throw new Error("admin SQL is PostgreSQL-only");
      },
      cleanup: () => db.close(),
    };
  }
  const schema = `bw_t_${randomBytes(6).toString("hex")}`;
  const config = testConfig({ DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_MAX: "4" });
  const db = Database.open(config, silentLog);
  await db.migrate({ extra });
  await db.refreshTenantTables();
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2, options: `-c search_path=${schema}` });
  pool.on("error", () => {}); // idle connections dropped by a database restart (pg-restart test)
  return {
    db,
    schema,
    admin: (text, values) => pool.query(text, values),
    cleanup: async () => {
      await db.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly db: Database;
  /** Every log line written so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  readonly rawLogs: string[];
  close(): Promise<void>;
}

/**
 * Builds the whole app on a fresh database with logs captured. `setup` runs before the app is ready, so
 * a test can add routes (a route that throws, one with a body schema) that inherit every control.
 */
export async function testApp(
  env: Record<string, string> = {},
  setup?: (app: FastifyInstance) => void | Promise<void>,
  options: {
    extensions?: readonly Extension[];
    mailer?: Mailer;
    webhooks?: WebhookOptions;
    external?: ExternalOptions;
  } = {},
): Promise<TestApp> {
  const extensions = options.extensions ?? [];
  const t = await testDb(bulwarkMigrations(extensions));
  const config = testConfig({ LOG_LEVEL: "info", ...env });
  const rawLogs: string[] = [];
  const redis = config.redisUrl ? connectRedis(config.redisUrl, silentLog) : undefined;
  const app = await buildApp(config, {
    db: t.db,
    ...(redis ? { redis } : {}),
    extensions,
    ...(options.mailer ? { mailer: options.mailer } : {}),
    ...(options.webhooks ? { webhooks: options.webhooks } : {}),
    ...(options.external ? { external: options.external } : {}),
    logStream: { write: (s: string) => void rawLogs.push(s) },
  });
  // Routes a test adds under /test/ are public unless they declare otherwise (config.security).
  for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE"])
    app.bulwark.routeTable.declare(`${m} /test/*`, TEST_ROUTE);
  if (setup) await setup(app);
  await app.ready();
  return {
    app,
    config,
    db: t.db,
    rawLogs,
    get logs() {
      return rawLogs.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    close: async () => {
      await app.close();
      redis?.disconnect();
      await t.cleanup();
    },
  };
}

/** Creates a verified account directly (for tests that are not about sign-up), hashed as configured. */
export async function createUser(
  t: TestApp,
  email: string,
  password: string,
  options: { verified?: boolean; hash?: string } = {},
): Promise<string> {
  const { PasswordHasher } = await import("../src/identity/password.js");
  const { IdentityStore } = await import("../src/identity/store.js");
  const { newId } = await import("../src/util/ids.js");
  const now = Date.now();
  const id = newId("usr", now);
  const hash = options.hash ?? (await new PasswordHasher(t.config.auth.argon2).hash(password));
  await new IdentityStore(t.db.global).createUser({
    id,
    email,
    email_verified_at: options.verified === false ? null : now,
    password_hash: hash,
    created_at: now,
    updated_at: now,
  });
  return id;
}

/** A request as a signed-in user (the cookie and CSRF token `login` returned), through inject(). */
export function asUser(
  t: Pick<TestApp, "app">,
  who: { cookie: string; csrf: string },
  method: string,
  url: string,
  payload?: object,
) {
  return t.app.inject({
    method: method as "GET",
    url,
    ...(payload ? { payload } : {}),
    headers: { cookie: who.cookie, "x-csrf-token": who.csrf },
  });
}

/** Signs in through the API and returns the cookie header and CSRF token for inject() calls. */
export async function login(
  t: TestApp,
  email: string,
  password: string,
  remoteAddress = "127.0.0.1",
): Promise<{ cookie: string; csrf: string }> {
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/auth/login",
    payload: { email, password },
    remoteAddress,
  });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  const cookie = String(res.headers["set-cookie"]).split(";")[0] ?? "";
  return { cookie, csrf: res.json().csrfToken };
}
